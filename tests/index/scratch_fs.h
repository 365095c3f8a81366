/* Scratch folders for the index tests: make a path with its parents, remove
 * a tree. Header-only, like clustered.h; the includer defines _GNU_SOURCE
 * (or _XOPEN_SOURCE 500) before any header, for nftw. */
#ifndef CEREBRO_TESTS_SCRATCH_FS_H
#define CEREBRO_TESTS_SCRATCH_FS_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int scratch_rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* rm -rf: symbolic links are removed, never followed. */
static inline void rm_rf(const char *path)
{
    nftw(path, scratch_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p */
static inline void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

#endif
