/* Folder walking: recursion with loop detection, hidden files, symlinks. */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/core.h"
#include "index/walk.h"
#include "video/video.h"

/* Folders on the current descent path, to refuse symlink loops. */
typedef struct ancestry {
    dev_t dev;
    ino_t ino;
    const struct ancestry *parent;
} ancestry;

/* Names only let the walk skip obvious non-images quickly: the decoder
 * goes by the bytes (a WebP named .jpg is read as WebP). Case is ignored.
 * Camera RAW: Adobe DNG, Canon CR2/CR3/CRW, Nikon NEF/NRW, Sony ARW/SRF/SR2,
 * Fujifilm RAF, Olympus ORF, Panasonic RW2, Pentax PEF, Samsung SRW, Sigma
 * X3F, Minolta MRW, Hasselblad 3FR, Phase One IIQ, Epson ERF, Kodak KDC/DCR,
 * Leaf MOS, Leica RWL. */
int cb_is_image_name(const char *name)
{
    static const char *const exts[] = {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp", ".dib",
        ".heic", ".heif", ".hif", ".avif", ".jxl", ".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw",
        ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2", ".pef", ".srw", ".x3f", ".mrw", ".3fr",
        ".iiq", ".erf", ".kdc", ".dcr", ".mos", ".rwl"};
    return cb_has_extension(name, exts, sizeof exts / sizeof exts[0]);
}

/* Files a folder walk reports: images, and videos unless told not to. */
static int wanted(const cb_walk *w, const char *name)
{
    return cb_is_image_name(name) || (!(w->flags & CEREBRO_ADD_NO_VIDEO) && cb_is_video_name(name));
}

/* Whether a pattern of `exclude` matches one entry: a pattern without '/'
 * against its name, one with '/' against its path below the root
 * (cerebro_add_options.exclude). */
static int matches(const char *const *exclude, size_t n, const char *below, const char *name)
{
    char buf[1024];
    for (size_t i = 0; i < n; i++) {
        const char *p = exclude[i];
        size_t len = strlen(p);
        /* "Screenshots/" is the folder "Screenshots", as people write it */
        if (len > 1 && p[len - 1] == '/' && len < sizeof buf) {
            while (len > 1 && p[len - 1] == '/')
                len--;
            memcpy(buf, p, len);
            buf[len] = '\0';
            p = buf;
        }
        if (strchr(p, '/') ? fnmatch(p, below, FNM_PATHNAME) == 0 : fnmatch(p, name, 0) == 0)
            return 1;
    }
    return 0;
}

static int excluded(const cb_walk *w, const char *path, const char *name)
{
    const char *below = path + w->root_len;
    while (*below == '/')
        below++;
    return matches(w->exclude, w->n_exclude, below, name);
}

int cb_path_excluded(const char *const *exclude, size_t n, const char *below)
{
    size_t len = strlen(below);
    char *prefix;
    int hit = 0;

    if (!n || !len || !(prefix = malloc(len + 1)))
        return 0;
    memcpy(prefix, below, len + 1);
    /* Each folder on the way down, then the file: the walk would have
     * stopped at the first one excluded. */
    for (size_t end = 0; !hit && end <= len; end++) {
        if (prefix[end] != '/' && prefix[end] != '\0')
            continue;
        char saved = prefix[end];
        prefix[end] = '\0';
        const char *name = strrchr(prefix, '/');
        hit = end > 0 && matches(exclude, n, prefix, name ? name + 1 : prefix);
        prefix[end] = saved;
    }
    free(prefix);
    return hit;
}

cerebro_status cb_absolute_path(const char *path, char **out)
{
    char parent[PATH_MAX], resolved[PATH_MAX];
    const char *slash, *name;
    size_t len;

    *out = NULL;
    if (!*path)
        return cb_fail(CEREBRO_E_INVALID, "empty path");
    /* Trailing slashes name the folder itself. */
    len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    /* The reason first: a message is capped at 1 KiB and such a path is not. */
    if (len >= sizeof parent)
        return cb_fail(CEREBRO_E_LIMIT, "path longer than %d bytes: %.200s...", PATH_MAX, path);
    memcpy(parent, path, len);
    parent[len] = '\0';
    slash = strrchr(parent, '/');
    if (!slash) {
        name = parent;
        if (!realpath(".", resolved))
            return cb_fail(CEREBRO_E_IO, "cannot resolve the current folder: %s", strerror(errno));
    } else {
        name = slash + 1;
        if (slash == parent) {
            strcpy(resolved, "/");
        } else {
            parent[slash - parent] = '\0';
            if (!realpath(parent, resolved))
                return cb_fail(errno == ENOENT ? CEREBRO_E_NOT_FOUND : CEREBRO_E_IO, "%s: %s", path,
                               strerror(errno));
        }
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || !*name) {
        /* "dir/.." and friends: resolve the whole path instead. */
        memcpy(parent, path, len);
        parent[len] = '\0';
        if (!realpath(parent, resolved))
            return cb_fail(errno == ENOENT ? CEREBRO_E_NOT_FOUND : CEREBRO_E_IO, "%s: %s", path,
                           strerror(errno));
        name = "";
    }
    if (!(*out = malloc(strlen(resolved) + strlen(name) + 2)))
        return cb_fail(CEREBRO_E_NOMEM, "out of memory");
    sprintf(*out, "%s%s%s", resolved, !*name || strcmp(resolved, "/") == 0 ? "" : "/", name);
    return CEREBRO_OK;
}

static void report(const cb_walk *w, const char *path, cerebro_status st, const char *fmt, ...)
    CB_PRINTF(4, 5);

static void report(const cb_walk *w, const char *path, cerebro_status st, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (w->on_error)
        w->on_error(w->user, path, st, msg);
}

static void walk_dir(const cb_walk *w, const char *dir, const struct stat *dst, const ancestry *up,
                     int depth);

/* Visits one folder entry: a file, a folder, or a symlink to either. */
static void visit(const cb_walk *w, const char *path, const char *name, const ancestry *up, int depth)
{
    struct stat lst, st;

    if (lstat(path, &lst) != 0) {
        report(w, path, CEREBRO_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        return;
    }
    st = lst;
    if (S_ISLNK(lst.st_mode)) {
        if (stat(path, &st) != 0) {
            if (wanted(w, name))
                report(w, path, CEREBRO_E_NOT_FOUND, "%s: broken symbolic link (%s)", path, strerror(errno));
            return;
        }
        if (S_ISDIR(st.st_mode) && !(w->flags & CEREBRO_ADD_FOLLOW_SYMLINKS))
            return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!(w->flags & CEREBRO_ADD_NO_RECURSE))
            walk_dir(w, path, &st, up, depth + 1);
        return;
    }
    if (!wanted(w, name))
        return;
    if (!S_ISREG(st.st_mode)) {
        report(w, path, CEREBRO_E_IO, "%s: not a regular file", path);
        return;
    }
    w->on_file(w->user, path, &st);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(const cb_walk *w, const char *dir, const struct stat *dst, const ancestry *up,
                     int depth)
{
    ancestry self = {dst->st_dev, dst->st_ino, up};
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    DIR *d;

    for (const ancestry *a = up; a; a = a->parent) {
        if (a->dev == dst->st_dev && a->ino == dst->st_ino) {
            report(w, dir, CEREBRO_E_IO, "%s: symbolic link loop (folder already being visited)", dir);
            return;
        }
    }
    if (depth > 256) {
        report(w, dir, CEREBRO_E_LIMIT, "%s: folders nested deeper than 256 levels", dir);
        return;
    }
    if (!(d = opendir(dir))) {
        report(w, dir, CEREBRO_E_IO, "%s: cannot open folder: %s", dir, strerror(errno));
        return;
    }
    /* Sorted names: the same folder is always indexed in the same order. */
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.' && !(w->flags & CEREBRO_ADD_HIDDEN))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **grown = realloc(names, ncap * sizeof *names);
            if (!grown)
                break;
            names = grown;
            cap = ncap;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof *names, compare_names);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]) + 2;
        char *path = malloc(len);
        if (path) {
            snprintf(path, len, "%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/", names[i]);
            if (!excluded(w, path, names[i]))
                visit(w, path, names[i], &self, depth);
            free(path);
        }
        free(names[i]);
    }
    free(names);
}

cerebro_status cb_walk_root(const cb_walk *w, const char *root, char **absolute)
{
    struct stat st;
    char *abs;
    cerebro_status s;

    if (absolute)
        *absolute = NULL;
    if ((s = cb_absolute_path(root, &abs)) != CEREBRO_OK)
        return s;
    if (stat(abs, &st) != 0) {
        s = errno == ENOENT ? CEREBRO_E_NOT_FOUND : CEREBRO_E_IO;
        cb_fail(s, "%s: %s", root, strerror(errno));
        if (absolute)
            *absolute = abs;
        else
            free(abs);
        return s;
    }
    if (S_ISDIR(st.st_mode)) {
        cb_walk rooted = *w;
        rooted.root_len = strlen(abs);
        walk_dir(&rooted, abs, &st, NULL, 0);
    }
    else if (S_ISREG(st.st_mode))
        w->on_file(w->user, abs, &st);
    else
        report(w, abs, CEREBRO_E_IO, "%s: not a regular file or folder", abs);
    if (absolute)
        *absolute = abs;
    else
        free(abs);
    return CEREBRO_OK;
}
