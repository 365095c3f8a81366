/* A full disk, for real: the index lives on a small tmpfs mounted inside a
 * private mount namespace (root only; without the privilege the test
 * reports itself skipped, exit code 77). The disk fills while SQLite
 * commits a batch, while the ANN file is written, and on a tmpfs simply too
 * small for the run. Each time: the error is E_IO, says "No space left on
 * device" and names the file; the callback's and the returned counts equal
 * what the store holds afterwards (checked with SQLite directly); the index
 * opens and searches while the disk is still full; once space is freed the
 * same run completes and every image finds itself. */
#define _GNU_SOURCE /* unshare, strcasestr, nftw */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/scratch_fs.h"

#define SKIP_CODE 77

/* ---- folders and the tmpfs -------------------------------------------------- */

typedef struct paths {
    char base[2048], src[2100], mnt[2100], idx[2200];
} paths;

/* base/src: the images (on the ordinary disk); base/mnt: the tmpfs;
 * base/mnt/idx: the index. */
static paths scratch(const char *name)
{
    const char *tmp = getenv("CEREBRO_TEST_TMP");
    char cwd[1024];
    paths p;
    if (!tmp || tmp[0] != '/') {
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
        snprintf(p.base, sizeof p.base, "%s/%s/index-full-%s", cwd, tmp ? tmp : "tmp", name);
    } else {
        snprintf(p.base, sizeof p.base, "%s/index-full-%s", tmp, name);
    }
    snprintf(p.src, sizeof p.src, "%s/src", p.base);
    snprintf(p.mnt, sizeof p.mnt, "%s/mnt", p.base);
    snprintf(p.idx, sizeof p.idx, "%s/idx", p.mnt);
    umount2(p.mnt, MNT_DETACH); /* a tmpfs left by an aborted run */
    rm_rf(p.base);
    mkdirs(p.src);
    mkdirs(p.mnt);
    return p;
}

static void mount_tmpfs(const paths *p, unsigned long kib)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%luk,mode=0755", kib);
    ck_assert_msg(mount("tmpfs", p->mnt, "tmpfs", MS_NOSUID | MS_NODEV, opts) == 0, "mount %s: %s", p->mnt,
                  strerror(errno));
}

static void resize_tmpfs(const paths *p, unsigned long kib)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%luk", kib);
    ck_assert_msg(mount(NULL, p->mnt, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, opts) == 0, "remount %s: %s",
                  p->mnt, strerror(errno));
}

static void unmount_tmpfs(const paths *p)
{
    ck_assert_msg(umount2(p->mnt, 0) == 0, "umount %s: %s", p->mnt, strerror(errno));
}

static unsigned long used_kib(const char *dir)
{
    struct statvfs v;
    ck_assert_int_eq(statvfs(dir, &v), 0);
    return (unsigned long)((v.f_blocks - v.f_bfree) * v.f_frsize / 1024);
}

/* Fills the filesystem of `dir` to the last byte with dir/ballast. */
static void fill_disk(const char *dir)
{
    static char chunk[65536];
    char path[4096];
    size_t size = sizeof chunk;
    snprintf(path, sizeof path, "%s/ballast", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    while (size > 0) {
        ssize_t w = write(fd, chunk, size);
        if (w < 0) {
            ck_assert_msg(errno == ENOSPC, "%s: %s", path, strerror(errno));
            size /= 2;
        }
    }
    close(fd);
}

static void free_ballast(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ballast", dir);
    ck_assert_int_eq(unlink(path), 0);
}

/* ---- images and the model --------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* img000.jpg...: a gradient under random blocks, a different picture per i. */
static void fill_folder(const char *dir, int n)
{
    enum { W = 48, H = 40 };
    static uint8_t rgb[W * H * 3];
    char path[4096];
    for (int i = 0; i < n; i++) {
        uint64_t s = 0x9e3779b97f4a7c15ull ^ ((uint64_t)(i + 1) * 0x100000001b3ull);
        uint8_t base[3];
        for (int c = 0; c < 3; c++)
            base[c] = (uint8_t)rng_next(&s);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++)
                    rgb[(y * W + x) * 3 + c] = (uint8_t)(base[c] + (c == 0 ? x * 3 : c == 1 ? y * 3 : x + y));
        for (int b = 0; b < 6; b++) {
            int bx = (int)(rng_next(&s) % W), by = (int)(rng_next(&s) % H);
            int bw = 4 + (int)(rng_next(&s) % (W / 2)), bh = 4 + (int)(rng_next(&s) % (H / 2));
            uint8_t col[3] = {(uint8_t)rng_next(&s), (uint8_t)rng_next(&s), (uint8_t)rng_next(&s)};
            for (int y = by; y < by + bh && y < H; y++)
                for (int x = bx; x < bx + bw && x < W; x++)
                    memcpy(rgb + (y * W + x) * 3, col, 3);
        }
        cerebro_image *img = NULL;
        void *data = NULL;
        size_t size = 0;
        OK(cerebro_image_from_rgb(&img, rgb, W, H, W * 3, NULL));
        OK(cerebro_image_encode_jpeg(img, 92, &data, &size));
        snprintf(path, sizeof path, "%s/img%03d.jpg", dir, i);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
        cerebro_free(data);
        cerebro_image_free(img);
    }
}

static cerebro_model *open_model(void)
{
    const char *dir = getenv("CEREBRO_MODEL_FIXTURES");
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny.pt", dir ? dir : "model-fixtures");
    return open_test_model(path);
}

static cerebro_index *open_index(const char *dir, const cerebro_model *m, uint32_t flags)
{
    cerebro_index_options o;
    cerebro_index *idx = NULL;
    cerebro_index_options_init(&o);
    o.flags = flags;
    OK(cerebro_index_open(&idx, dir, m, &o));
    return idx;
}

/* Writes n images, mounts a tmpfs of `kib` and creates the index on it. */
static cerebro_index *start(const paths *p, const cerebro_model *m, int n, unsigned long kib)
{
    fill_folder(p->src, n);
    mount_tmpfs(p, kib);
    return open_index(p->idx, m, CEREBRO_INDEX_CREATE);
}

static void finish(const paths *p, cerebro_index *idx, cerebro_model *m)
{
    cerebro_index_free(idx);
    cerebro_model_free(m);
    unmount_tmpfs(p);
}

/* ---- what the store holds ----------------------------------------------------- */

static int64_t sql_count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

/* Items in cerebro.db, read with SQLite itself (not through libcerebro);
 * every indexed file has exactly one item (no videos here). */
static uint64_t stored_items(const char *idx_dir)
{
    char path[4096];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/cerebro.db", idx_dir);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    int64_t items = sql_count(db, "SELECT COUNT(*) FROM items");
    int64_t files = sql_count(db, "SELECT COUNT(*) FROM files WHERE status = 0");
    ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
    ck_assert_int_eq(items, files);
    return (uint64_t)items;
}

static uint64_t api_items(cerebro_index *idx)
{
    cerebro_index_stats s;
    OK(cerebro_index_stats_get(idx, &s));
    return s.count;
}

/* The image finds itself first (same pixels, same vector). */
static void assert_finds(cerebro_index *idx, const char *src, int i)
{
    char path[4096];
    cerebro_search_options o;
    cerebro_results *r = NULL;
    cerebro_hit hit;
    snprintf(path, sizeof path, "%s/img%03d.jpg", src, i);
    cerebro_search_options_init(&o);
    o.k = 3;
    o.min_relevance = 0; /* the k-NN mechanics, not the relevance cutoff */
    OK(cerebro_index_search_image_file(idx, path, &o, &r));
    ck_assert_uint_ge(cerebro_results_count(r), 1);
    OK(cerebro_results_get(r, 0, &hit));
    ck_assert_str_eq(hit.path, path);
    ck_assert_float_gt(hit.score, 0.999f);
    cerebro_results_free(r);
}

/* Names of leftover ann-*.faiss / ann-*.tmp files in dir. */
static int ann_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "ann-", 4) == 0 && strstr(e->d_name, suffix) != NULL;
    closedir(d);
    return n;
}

/* ---- progress --------------------------------------------------------------- */

typedef struct watch {
    const char *fill_dir; /* fill this disk once `done` reaches fill_at */
    uint64_t fill_at;
    int filled;
    uint64_t reports, last_added, last_done, decreases;
} watch;

static int on_progress(void *user, const cerebro_progress *p)
{
    watch *w = user;
    if (p->path && !p->partial)
        w->reports++;
    if (p->added < w->last_added || p->done < w->last_done)
        w->decreases++;
    w->last_added = p->added;
    w->last_done = p->done;
    if (w->fill_at && !w->filled && p->path && p->done >= w->fill_at) {
        fill_disk(w->fill_dir);
        w->filled = 1;
    }
    return 0;
}

/* Indexes src in batches of 8 files, one transaction each. */
static cerebro_status add_folder(cerebro_index *idx, const char *src, watch *w, cerebro_add_stats *s,
                                 char *error, size_t cap)
{
    cerebro_add_options o;
    cerebro_add_options_init(&o);
    o.batch_size = 8;
    o.commit_every = 8;
    o.n_workers = 2;
    o.progress = on_progress;
    o.user = w;
    cerebro_status st = cerebro_index_add(idx, &src, 1, &o, s);
    snprintf(error, cap, "%s", cerebro_last_error());
    return st;
}

/* E_IO, "No space left on device", the file named, SQLite's follow-up
 * ("cannot rollback - no transaction is active") not in its place. */
static void assert_disk_full(cerebro_status st, const char *error, const char *file)
{
    ck_assert_msg(st == CEREBRO_E_IO, "expected E_IO, got %s: %s", cerebro_status_string(st), error);
    ck_assert_msg(strcasestr(error, "no space left on device") != NULL, "message: %s", error);
    ck_assert_msg(strstr(error, file) != NULL, "message does not name %s: %s", file, error);
    ck_assert_msg(strstr(error, "rollback") == NULL, "message: %s", error);
}

/* The committed counts, three ways: returned, last reported, stored. */
static void assert_counts(const watch *w, const cerebro_add_stats *s, uint64_t stored, uint64_t before)
{
    ck_assert_uint_eq(s->added, stored - before);
    ck_assert_uint_eq(w->last_added, s->added);
    ck_assert_uint_eq(w->reports, s->added); /* unchanged files are not reported */
    ck_assert_uint_eq(w->decreases, 0);
}

/* ---- tests -------------------------------------------------------------------- */

/* The disk fills after the third batch's commit: the fourth commit (its
 * WAL frames) finds no space. */
START_TEST(test_full_in_sqlite_commit)
{
    enum { N = 64 };
    paths p = scratch("sqlite");
    cerebro_model *m = open_model();
    cerebro_add_stats s;
    char error[1024];

    cerebro_index *idx = start(&p, m, N, 16384);
    watch w = {p.mnt, 24, 0, 0, 0, 0, 0};
    cerebro_status st = add_folder(idx, p.src, &w, &s, error, sizeof error);
    ck_assert(w.filled);
    assert_disk_full(st, error, "/cerebro.db");
    uint64_t stored = stored_items(p.idx);
    ck_assert_uint_eq(stored, 24); /* the three batches committed before */
    assert_counts(&w, &s, stored, 0);
    ck_assert_uint_eq(api_items(idx), stored);
    assert_finds(idx, p.src, 3);
    assert_finds(idx, p.src, 23);
    cerebro_index_free(idx);

    /* Still full: it opens and searches what was committed. */
    idx = open_index(p.idx, m, 0);
    ck_assert_uint_eq(api_items(idx), 24);
    assert_finds(idx, p.src, 10);
    /* A removal cannot commit either, and says why; nothing goes. */
    char path[4096];
    snprintf(path, sizeof path, "%s/img005.jpg", p.src);
    st = cerebro_index_remove_path(idx, path);
    snprintf(error, sizeof error, "%s", cerebro_last_error());
    assert_disk_full(st, error, "/cerebro.db");
    ck_assert_uint_eq(stored_items(p.idx), 24);
    ck_assert_uint_eq(api_items(idx), 24);
    assert_finds(idx, p.src, 5);

    /* Space again: the same run completes. */
    free_ballast(p.mnt);
    watch w2 = {NULL, 0, 0, 0, 0, 0, 0};
    OK(add_folder(idx, p.src, &w2, &s, error, sizeof error));
    ck_assert_uint_eq(s.skipped, 24);
    assert_counts(&w2, &s, stored_items(p.idx), 24);
    ck_assert_uint_eq(stored_items(p.idx), N);
    ck_assert_uint_eq(api_items(idx), N);
    for (int i = 0; i < N; i += 9)
        assert_finds(idx, p.src, i);
    ck_assert_int_eq(ann_files(p.idx, ".faiss"), 1);
    ck_assert_int_eq(ann_files(p.idx, ".tmp"), 0);
    finish(&p, idx, m);
}
END_TEST

/* Every batch is committed, then the disk fills: writing ann-<gen>.faiss
 * fails. The store keeps all of it; the ANN file is derived and is written
 * once there is space. */
START_TEST(test_full_in_ann_write)
{
    enum { N = 48 };
    paths p = scratch("ann");
    cerebro_model *m = open_model();
    cerebro_add_stats s;
    char error[1024];

    cerebro_index *idx = start(&p, m, N, 16384);
    watch w = {p.mnt, N, 0, 0, 0, 0, 0};
    cerebro_status st = add_folder(idx, p.src, &w, &s, error, sizeof error);
    ck_assert(w.filled);
    assert_disk_full(st, error, ".faiss");
    ck_assert_msg(strstr(error, p.idx) != NULL, "message does not name the index folder: %s", error);
    ck_assert_uint_eq(stored_items(p.idx), N);
    assert_counts(&w, &s, N, 0);
    ck_assert_int_eq(ann_files(p.idx, ".tmp"), 0); /* the partial file is gone */
    assert_finds(idx, p.src, 40);
    cerebro_index_free(idx);

    /* Still full: it opens (rebuilding the ANN in memory) and searches. */
    idx = open_index(p.idx, m, 0);
    ck_assert_uint_eq(api_items(idx), N);
    assert_finds(idx, p.src, 7);
    assert_finds(idx, p.src, 47);
    cerebro_index_free(idx);
    /* The file of the empty index went first, to leave its space. */
    ck_assert_int_eq(ann_files(p.idx, ".faiss"), 0);
    idx = open_index(p.idx, m, CEREBRO_INDEX_READONLY);
    assert_finds(idx, p.src, 30);
    cerebro_index_free(idx);

    /* Space again: the next run has nothing to encode and saves the file. */
    free_ballast(p.mnt);
    idx = open_index(p.idx, m, 0);
    watch w2 = {NULL, 0, 0, 0, 0, 0, 0};
    OK(add_folder(idx, p.src, &w2, &s, error, sizeof error));
    ck_assert_uint_eq(s.added, 0);
    ck_assert_uint_eq(s.skipped, N);
    ck_assert_int_eq(ann_files(p.idx, ".faiss"), 1);
    finish(&p, idx, m);
}
END_TEST

/* As found from outside: a tmpfs too small for the run, wherever the space
 * runs out; then a bigger one. Its size is what a finished index occupies
 * (after close: no WAL), so the WAL and the shared-memory file of a run
 * cannot fit beside it. */
START_TEST(test_tmpfs_too_small)
{
    enum { N = 160 };
    paths p = scratch("small");
    cerebro_model *m = open_model();
    cerebro_add_stats s;
    char error[1024];

    cerebro_index *idx = start(&p, m, N, 65536);
    watch w = {NULL, 0, 0, 0, 0, 0, 0};
    OK(add_folder(idx, p.src, &w, &s, error, sizeof error));
    cerebro_index_free(idx);
    unsigned long need = used_kib(p.mnt);
    unmount_tmpfs(&p);

    mount_tmpfs(&p, need);
    idx = open_index(p.idx, m, CEREBRO_INDEX_CREATE);
    watch w1 = {NULL, 0, 0, 0, 0, 0, 0};
    cerebro_status st = add_folder(idx, p.src, &w1, &s, error, sizeof error);
    assert_disk_full(st, error, p.idx);
    uint64_t stored = stored_items(p.idx);
    ck_assert_uint_gt(stored, 0);
    if (strstr(error, "cerebro.db"))
        ck_assert_uint_lt(stored, N);
    assert_counts(&w1, &s, stored, 0);
    cerebro_index_free(idx);
    idx = open_index(p.idx, m, 0);
    ck_assert_uint_eq(api_items(idx), stored);
    assert_finds(idx, p.src, 0);

    /* As big as the first run had: a run's WAL grows to several times the
     * finished store before SQLite checkpoints it (1000 pages). */
    resize_tmpfs(&p, 65536);
    watch w2 = {NULL, 0, 0, 0, 0, 0, 0};
    OK(add_folder(idx, p.src, &w2, &s, error, sizeof error));
    assert_counts(&w2, &s, N, stored);
    ck_assert_uint_eq(api_items(idx), N);
    for (int i = 1; i < N; i += 17)
        assert_finds(idx, p.src, i);
    finish(&p, idx, m);
}
END_TEST

/* A private mount namespace for every tmpfs the tests mount: nothing is
 * seen outside this process, and it all goes when the process exits. */
static int private_mounts(char *why, size_t cap)
{
    if (unshare(CLONE_NEWNS) != 0) {
        snprintf(why, cap, "unshare(CLONE_NEWNS): %s", strerror(errno));
        return -1;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(why, cap, "making mounts private: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int main(void)
{
    char why[256];
    signal(SIGPIPE, SIG_IGN);
    if (private_mounts(why, sizeof why) != 0) {
        printf("SKIPPED: mounting a tmpfs needs root (CAP_SYS_ADMIN): %s\n", why);
        return SKIP_CODE;
    }
    Suite *suite = suite_create("disk full");
    TCase *tc = tcase_create("full");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_full_in_sqlite_commit);
    tcase_add_test(tc, test_full_in_ann_write);
    tcase_add_test(tc, test_tmpfs_too_small);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
