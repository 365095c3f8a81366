/* Finding the files to index under the paths a user gives. */
#ifndef CEREBRO_WALK_H
#define CEREBRO_WALK_H

#include <stdint.h>
#include <sys/stat.h>

#include "cerebro/cerebro.h"

/* A regular file found (or given): its absolute path and stat data. */
typedef void (*cb_walk_file_fn)(void *user, const char *path, const struct stat *st);
/* Something that could not be visited (broken symlink, unreadable
 * folder, symlink loop): reported, never fatal. */
typedef void (*cb_walk_error_fn)(void *user, const char *path, cerebro_status status,
                                 const char *message);

typedef struct cb_walk {
    unsigned flags; /* CEREBRO_ADD_NO_RECURSE | _HIDDEN | _FOLLOW_SYMLINKS | _NO_VIDEO */
    cb_walk_file_fn on_file;
    cb_walk_error_fn on_error;
    void *user;
    const char *const *exclude; /* cerebro_add_options.exclude (may be NULL) */
    size_t n_exclude;
    size_t root_len; /* set by cb_walk_root: where the path below the root starts */
} cb_walk;

/* Walks `root` (a folder, recursively, or a single file). Inside folders
 * only files with an image or (without CEREBRO_ADD_NO_VIDEO) a video
 * extension are reported, less the entries `exclude` matches (a folder
 * matched is not entered); a file given directly is always reported. *absolute (malloc'd, may be NULL) receives root made
 * absolute, without resolving a final symlink. Returns E_NOT_FOUND / E_IO
 * for a root that cannot be visited at all. */
cerebro_status cb_walk_root(const cb_walk *w, const char *root, char **absolute);

/* Absolute form of a path: the parent folder resolved with realpath(3),
 * the last component kept; *out is malloc'd (NULL on failure). E_INVALID for
 * an empty path, E_LIMIT for one of PATH_MAX bytes or more, E_NOT_FOUND when
 * the parent folder does not exist, E_IO or E_NOMEM otherwise. */
cerebro_status cb_absolute_path(const char *path, char **out);

/* 1 if a walk with these exclude patterns would leave out the file at
 * `below`, its path below the walk's root ("2019/raw/a.jpg"): the file or
 * one of the folders on the way is excluded. */
int cb_path_excluded(const char *const *exclude, size_t n, const char *below);

/* Validates cerebro_add_options (version, flags, limits, exclude patterns)
 * for cerebro_index_add() and cerebro_index_pending_opts() (lib/index/add.c). */
cerebro_status cb_check_add_options(const cerebro_add_options *o);

/* The exclude patterns of `o` (NULL, 0 for a version-1 struct, which ends
 * before them); *n receives their count. */
const char *const *cb_add_exclude(const cerebro_add_options *o, size_t *n);

/* 1 if the name ends with an image extension libcerebro decodes. */
int cb_is_image_name(const char *name);

#endif
