/* What a user of the index meets when something is wrong, each with its
 * status and message: bad options, a file where the index folder should be,
 * a store that is not SQLite, a store of another format version or with a
 * damaged vector, and paths that cannot be indexed (empty, too long,
 * missing, too deeply nested, neither file nor folder), and an approximate
 * structure whose fixed search parameter misses the recall a user may
 * expect: the store tunes it to its recall target. On the tiny bundle the
 * `model` fixture writes. */
#define _GNU_SOURCE
#include <check.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cerebro/cerebro.h"
#include "check_status.h"
#include "index/clustered.h"
#include "index/scratch_fs.h"

static cerebro_model *model;

static const char *fixtures(void)
{
    const char *d = getenv("CEREBRO_MODEL_FIXTURES");
    return d ? d : "model-fixtures";
}

/* A fresh scratch folder for one test: $CEREBRO_TEST_TMP/more_errors/name. */
static const char *scratch(const char *name)
{
    static char buf[8][2048];
    static int i;
    const char *tmp = getenv("CEREBRO_TEST_TMP");
    char *b = buf[i++ % 8];
    snprintf(b, sizeof buf[0], "%s/more_errors/%s", tmp ? tmp : "/tmp/cerebro-test", name);
    rm_rf(b);
    mkdirs(b);
    return b;
}

static void setup(void)
{
    char path[2048];
    cerebro_model_options o;
    cerebro_model_options_init(&o);
    o.precision = CEREBRO_PRECISION_FP32;
    snprintf(path, sizeof path, "%s/tiny.pt", fixtures());
    ck_assert_msg(cerebro_model_open(&model, path, &o) == CEREBRO_OK, "%s", cerebro_last_error());
}

static void teardown(void)
{
    cerebro_model_free(model);
    model = NULL;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    char buf[65536];
    size_t n, total = 0;
    ck_assert_ptr_nonnull(f);
    FILE *g = fopen(to, "wb");
    ck_assert_ptr_nonnull(g);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        total += fwrite(buf, 1, n, g);
    fclose(f);
    ck_assert_int_eq(fclose(g), 0);
    ck_assert_uint_gt(total, 0);
}

/* Runs one SQL statement on DIR/cerebro.db, as a damaged disk or another
 * program might leave it. */
static void store_sql(const char *dir, const char *sql)
{
    char path[2048];
    sqlite3 *db = NULL;
    char *err = NULL;
    snprintf(path, sizeof path, "%s/cerebro.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_msg(sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK, "%s: %s", sql, err);
    sqlite3_close(db);
}

/* An index of two photos from the fixtures in DIR/index; returns its path. */
static const char *two_photo_index(const char *dir)
{
    static char index_dir[2048];
    char photos[2048], src[2048], dst[2100];
    const char *folders[] = {photos};
    cerebro_index *idx = NULL;
    cerebro_add_stats stats;

    snprintf(photos, sizeof photos, "%s/photos", dir);
    mkdirs(photos);
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof src, "%s/photos/photo%d.jpg", fixtures(), i);
        snprintf(dst, sizeof dst, "%s/photo%d.jpg", photos, i);
        copy_file(src, dst);
    }
    snprintf(index_dir, sizeof index_dir, "%s/index", dir);
    ck_assert_msg(cerebro_index_open(&idx, index_dir, model, NULL) == CEREBRO_OK, "%s", cerebro_last_error());
    ck_assert_msg(cerebro_index_add(idx, folders, 1, NULL, &stats) == CEREBRO_OK, "%s", cerebro_last_error());
    ck_assert_uint_eq(stats.added, 2);
    cerebro_index_free(idx);
    return index_dir;
}

START_TEST(test_bad_index_options)
{
    const char *dir = scratch("options");
    char factory[512], path[2048];
    cerebro_index_options o;
    cerebro_index *idx = (cerebro_index *)&o;

    cerebro_index_options_init(&o);
    o.version = 0;
    ck_assert_fails(cerebro_index_open(&idx, dir, model, &o), CEREBRO_E_INVALID, "index options: unknown version 0");
    ck_assert_ptr_null(idx);
    cerebro_index_options_init(&o);
    memset(factory, 'F', sizeof factory - 1);
    factory[sizeof factory - 1] = '\0';
    o.factory = factory;
    ck_assert_fails(cerebro_index_open(&idx, dir, model, &o), CEREBRO_E_LIMIT,
                    "index options: factory string longer than");
    ck_assert_fails(cerebro_index_open(NULL, dir, model, NULL), CEREBRO_E_INVALID, "out is NULL");
    /* Opening for reading creates nothing. */
    cerebro_index_options_init(&o);
    o.flags = CEREBRO_INDEX_READONLY;
    snprintf(path, sizeof path, "%s/never-made", dir);
    ck_assert_int_ne(cerebro_index_open(&idx, path, model, &o), CEREBRO_OK);
    ck_assert_ptr_null(idx);
    ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_bad_recall_target)
{
    const char *dir = scratch("recall_target");
    const double bad[] = {1.5, -0.1, NAN, INFINITY};
    cerebro_index_options o;
    cerebro_index *idx = (cerebro_index *)&o;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cerebro_index_options_init(&o);
        o.recall_target = bad[i];
        ck_assert_fails(cerebro_index_open(&idx, dir, model, &o), CEREBRO_E_INVALID,
                        "index options: recall_target");
        ck_assert_ptr_null(idx);
    }
    /* A caller built against version 1 has no such field: it is not read. */
    cerebro_index_options_init(&o);
    o.version = 1;
    o.recall_target = 7;
    OK(cerebro_index_open(&idx, dir, model, &o));
    cerebro_index_free(idx);
}
END_TEST

/* Adds n uniform random unit vectors to the store in DIR, as items of
 * `files` files (DIR/synthetic-<i>.jpg, never written), and deletes its ANN files so that the next open rebuilds
 * from the store: data the test controls, at a size the tiny model would
 * take minutes to index. */
static void store_random_vectors(const char *dir, int n, int files, uint64_t seed)
{
    char path[2048], sql[2300];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    uint32_t dim = cerebro_model_dim(model);
    float *v = malloc((size_t)n * dim * sizeof(float));

    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(clustered_vectors(v, (size_t)n, dim, 1, 1e4f, seed, seed + 1), 0);
    snprintf(path, sizeof path, "%s/cerebro.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (int f = 0; f < files; f++) {
        snprintf(sql, sizeof sql, "INSERT INTO files(path, size, mtime_ns, indexed_at) VALUES "
                                  "('%s/synthetic-%d.jpg', 1, 1, 1)", dir, f);
        ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        int64_t file_id = sqlite3_last_insert_rowid(db);
        ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO items(file_id, vector) VALUES (?, ?)", -1, &q, NULL),
                         SQLITE_OK);
        for (int i = f * n / files; i < (f + 1) * n / files; i++) {
            sqlite3_bind_int64(q, 1, file_id);
            sqlite3_bind_blob(q, 2, v + (size_t)i * dim, (int)(dim * sizeof(float)), SQLITE_STATIC);
            ck_assert_int_eq(sqlite3_step(q), SQLITE_DONE);
            sqlite3_reset(q);
        }
        sqlite3_finalize(q);
    }
    ck_assert_int_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(v);
    snprintf(sql, sizeof sql, "rm -f '%s'/ann-*.faiss", dir);
    ck_assert_int_eq(system(sql), 0);
}

/* A meta value of the store in DIR ("" when absent). */
static const char *store_meta(const char *dir, const char *key)
{
    static char value[256];
    char path[2048];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    snprintf(path, sizeof path, "%s/cerebro.db", dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    value[0] = '\0';
    if (sqlite3_step(q) == SQLITE_ROW)
        snprintf(value, sizeof value, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return value;
}

/* Opens the store in DIR with a factory string and a recall target (0: the
 * store's), returns its stats, and closes it. */
static cerebro_index_stats open_stats(const char *dir, const char *factory, double target, uint32_t flags)
{
    cerebro_index_options o;
    cerebro_index_stats s;
    cerebro_index *idx = NULL;
    cerebro_index_options_init(&o);
    o.factory = factory;
    o.recall_target = target;
    o.flags = flags;
    OK(cerebro_index_open(&idx, dir, model, &o));
    OK(cerebro_index_stats_get(idx, &s));
    cerebro_index_free(idx);
    printf("%s, target %.2f: %s, recall@10 %.3f\n", factory ? factory : "(stored)", target, s.structure,
           s.recall_at_10);
    return s;
}

static unsigned nprobe_of(const cerebro_index_stats *s)
{
    const char *p = strstr(s->structure, "|nprobe=");
    ck_assert_msg(p != NULL, "%s names no nprobe", s->structure);
    return (unsigned)strtoul(p + 8, NULL, 10);
}

/* Uniform random vectors, where IVF's fixed nprobe (13 of 32 lists for
 * 4000 vectors) misses many true neighbours: the store tunes nprobe to its
 * recall target, records it and keeps it, retunes for a new target and when
 * the collection shrinks by more than a fifth; a factory string that names
 * nprobe is used as given. */
START_TEST(test_recall_target_reached)
{
    const char *index_dir = two_photo_index(scratch("recall"));
    cerebro_index_stats s;
    store_random_vectors(index_dir, 4000, 5, 91);

    s = open_stats(index_dir, "IVF32,Flat|nprobe=13", 0, CEREBRO_INDEX_CREATE);
    ck_assert_str_eq(s.structure, "IVF32,Flat|nprobe=13");
    ck_assert_double_lt(s.recall_at_10, 0.95);
    ck_assert_str_eq(store_meta(index_dir, "recall_target"), "0.94999999999999996");
    ck_assert_str_eq(store_meta(index_dir, "tuned"), "");

    s = open_stats(index_dir, "IVF32,Flat", 0, CEREBRO_INDEX_CREATE);
    unsigned tuned = nprobe_of(&s);
    ck_assert_uint_gt(tuned, 13);
    ck_assert_double_ge(s.recall_at_10, 0.95);
    char want[2100];
    snprintf(want, sizeof want, "nprobe=%u", tuned);
    ck_assert_str_eq(store_meta(index_dir, "tuned"), want);
    ck_assert_str_eq(store_meta(index_dir, "tuned_count"), "4002");

    /* Kept: the ANN file holds the value, read-only handles show it. */
    cerebro_index_stats again = open_stats(index_dir, NULL, 0, CEREBRO_INDEX_READONLY);
    ck_assert_str_eq(again.structure, s.structure);
    ck_assert_double_eq(again.recall_at_10, s.recall_at_10);

    /* A higher target: more lists; 0 afterwards keeps the new one. */
    s = open_stats(index_dir, NULL, 0.99, CEREBRO_INDEX_CREATE);
    ck_assert_uint_gt(nprobe_of(&s), tuned);
    ck_assert_double_ge(s.recall_at_10, 0.99);
    again = open_stats(index_dir, NULL, 0, CEREBRO_INDEX_CREATE);
    ck_assert_str_eq(again.structure, s.structure);
    ck_assert_str_eq(store_meta(index_dir, "recall_target"), "0.98999999999999999");

    /* Two of the five files go (1600 of 4002 vectors): retuned on what is left. */
    cerebro_index *idx = NULL;
    cerebro_index_options o;
    cerebro_index_options_init(&o);
    OK(cerebro_index_open(&idx, index_dir, model, &o));
    snprintf(want, sizeof want, "%s/synthetic-0.jpg", index_dir);
    OK(cerebro_index_remove_path(idx, want));
    ck_assert_str_eq(store_meta(index_dir, "tuned_count"), "4002");
    snprintf(want, sizeof want, "%s/synthetic-1.jpg", index_dir);
    OK(cerebro_index_remove_path(idx, want));
    ck_assert_str_eq(store_meta(index_dir, "tuned_count"), "2402");
    OK(cerebro_index_stats_get(idx, &s));
    ck_assert_double_ge(s.recall_at_10, 0.99);
    cerebro_index_free(idx);
}
END_TEST

/* 100,000 uniform random vectors: the automatic IVF512 needs more than half
 * of its lists for a recall target of 0.99 (at 0.95 it needs 228 of them on
 * these 64-d vectors), so the store searches exactly instead
 * (faster, recall 1) and records the structure it stands for; the next add
 * keeps it instead of rebuilding. A factory string is used as given. */
START_TEST(test_exact_when_ivf_needs_most_lists)
{
    const char *dir = scratch("exact");
    const char *index_dir = two_photo_index(dir);
    char photos[2048], src[2048], dst[2100], stands_for[256];
    const char *folders[] = {photos};
    cerebro_index *idx = NULL;
    cerebro_add_stats stats;
    cerebro_index_stats s;
    store_random_vectors(index_dir, 100000, 5, 93);

    s = open_stats(index_dir, NULL, 0.99, CEREBRO_INDEX_CREATE);
    ck_assert_str_eq(s.structure, "Flat");
    ck_assert_double_eq(s.recall_at_10, 1.0);
    snprintf(stands_for, sizeof stands_for, "%s", store_meta(index_dir, "exact_for"));
    ck_assert_msg(strncmp(stands_for, "IVF512,Flat|nprobe=", 19) == 0, "exact_for: %s", stands_for);
    ck_assert_uint_gt(strtoul(stands_for + 19, NULL, 10), 256);
    ck_assert_str_eq(store_meta(index_dir, "tuned_count"), "100002");

    /* One more file: the automatic choice is still IVF512, which the exact
     * structure stands for: nothing is rebuilt or retuned. */
    snprintf(photos, sizeof photos, "%s/photos", dir);
    snprintf(src, sizeof src, "%s/photos/photo2.jpg", fixtures());
    snprintf(dst, sizeof dst, "%s/photo2.jpg", photos);
    copy_file(src, dst);
    OK(cerebro_index_open(&idx, index_dir, model, NULL));
    OK(cerebro_index_add(idx, folders, 1, NULL, &stats));
    ck_assert_uint_eq(stats.added, 1);
    OK(cerebro_index_stats_get(idx, &s));
    ck_assert_str_eq(s.structure, "Flat");
    ck_assert_uint_eq(s.count, 100003);
    cerebro_index_free(idx);
    ck_assert_str_eq(store_meta(index_dir, "tuned_count"), "100002");

    /* Named by the caller: kept as IVF, tuned past half of its lists. */
    s = open_stats(index_dir, "IVF512,Flat", 0, CEREBRO_INDEX_CREATE);
    ck_assert_uint_gt(nprobe_of(&s), 256);
    ck_assert_double_ge(s.recall_at_10, 0.99);
}
END_TEST

START_TEST(test_index_folder_is_a_file)
{
    const char *dir = scratch("file");
    char path[2048];
    cerebro_index *idx = NULL;

    snprintf(path, sizeof path, "%s/index", dir);
    write_file(path, "x", 1);
    ck_assert_fails(cerebro_index_open(&idx, path, model, NULL), CEREBRO_E_INVALID, "not a directory");
    ck_assert_ptr_null(idx);
    /* Below a file: there is no such folder, and none is made. */
    snprintf(path, sizeof path, "%s/index/below", dir);
    ck_assert_fails(cerebro_index_open(&idx, path, model, NULL), CEREBRO_E_NOT_FOUND, "no such index directory");
    ck_assert_ptr_null(idx);
    /* Its parent missing: one level is made, not a whole path. */
    snprintf(path, sizeof path, "%s/missing/index", dir);
    ck_assert_fails(cerebro_index_open(&idx, path, model, NULL), CEREBRO_E_IO,
                    "cannot create the directory: No such file or directory");
    ck_assert_ptr_null(idx);
}
END_TEST

START_TEST(test_store_is_not_sqlite)
{
    const char *dir = scratch("not_sqlite");
    static const char junk[] = "this is not an SQLite database, it is a damaged file of some length .......";
    char path[2048];
    cerebro_index *idx = NULL;

    snprintf(path, sizeof path, "%s/cerebro.db", dir);
    write_file(path, junk, sizeof junk);
    ck_assert_fails(cerebro_index_open(&idx, dir, model, NULL), CEREBRO_E_CORRUPT, dir);
    ck_assert_ptr_null(idx);
}
END_TEST

START_TEST(test_store_of_another_format)
{
    const char *index_dir = two_photo_index(scratch("format"));
    char want[2100];
    cerebro_index *idx = NULL;

    store_sql(index_dir, "UPDATE meta SET value = '99' WHERE key = 'format_version'");
    snprintf(want, sizeof want, "%s: store format 99; this library reads format", index_dir);
    ck_assert_fails(cerebro_index_open(&idx, index_dir, model, NULL), CEREBRO_E_UNSUPPORTED, want);
    ck_assert_ptr_null(idx);
}
END_TEST

START_TEST(test_store_with_a_damaged_vector)
{
    const char *index_dir = two_photo_index(scratch("vector"));
    char path[2048], want[2100];
    cerebro_index *idx = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    long long id;

    /* The ANN file goes too, so that opening rebuilds it from the store. */
    store_sql(index_dir, "UPDATE items SET vector = x'00010203' WHERE id = (SELECT MAX(id) FROM items)");
    snprintf(path, sizeof path, "%s/cerebro.db", index_dir);
    ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT MAX(id) FROM items", -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -f '%s'/ann-*.faiss", index_dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(want, sizeof want, "item %lld has a 4-byte vector; expected %u floats", id, cerebro_model_dim(model));
    ck_assert_fails(cerebro_index_open(&idx, index_dir, model, NULL), CEREBRO_E_CORRUPT, want);
    ck_assert_ptr_null(idx);
}
END_TEST

/* Every failed path the add reports, with its status. */
typedef struct failures {
    int n;
    cerebro_status status[8];
    char message[8][8192];
} failures;

static int collect(void *user, const cerebro_progress *p)
{
    failures *f = user;
    if (p->path && p->status != CEREBRO_OK && f->n < 8) {
        f->status[f->n] = p->status;
        snprintf(f->message[f->n], sizeof f->message[0], "%s", p->message ? p->message : "");
        f->n++;
    }
    return 0;
}

/* Adds one path to a fresh index; the call's status, its failures in *f. */
static cerebro_status add_one(const char *dir, const char *path, failures *f, cerebro_add_stats *stats)
{
    char index_dir[2048];
    const char *paths[] = {path};
    cerebro_index *idx = NULL;
    cerebro_add_options o;
    cerebro_status st;

    snprintf(index_dir, sizeof index_dir, "%s/index", dir);
    rm_rf(index_dir);
    ck_assert_msg(cerebro_index_open(&idx, index_dir, model, NULL) == CEREBRO_OK, "%s", cerebro_last_error());
    cerebro_add_options_init(&o);
    o.progress = collect;
    o.user = f;
    memset(f, 0, sizeof *f);
    memset(stats, 0, sizeof *stats);
    st = cerebro_index_add(idx, paths, 1, &o, stats);
    cerebro_index_free(idx);
    return st;
}

START_TEST(test_paths_that_cannot_be_indexed)
{
    const char *dir = scratch("paths");
    char *long_path = malloc(PATH_MAX + 64), fifo[2048], missing[2048], deep[8192];
    failures f;
    cerebro_add_stats stats;
    cerebro_status st;

    /* Nothing readable at all: the call fails, and says which path and why. */
    ck_assert_fails(add_one(dir, "", &f, &stats), CEREBRO_E_INVALID,
                    "nothing to index: none of the 1 paths could be read");
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.status[0], CEREBRO_E_INVALID);
    ck_assert_str_eq(f.message[0], "empty path");

    memset(long_path, 'a', PATH_MAX + 10);
    long_path[0] = '/';
    long_path[PATH_MAX + 10] = '\0';
    ck_assert_fails(add_one(dir, long_path, &f, &stats), CEREBRO_E_LIMIT, "nothing to index");
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.status[0], CEREBRO_E_LIMIT);
    /* The reason comes first, then the start of the path: the 1 KiB cap on
     * messages cannot cut the reason off. */
    ck_assert_msg(strncmp(f.message[0], "path longer than 4096 bytes: /aaa", 33) == 0, "%s", f.message[0]);
    ck_assert_uint_lt(strlen(f.message[0]), 300);

    snprintf(missing, sizeof missing, "%s/no-such-folder/photo.jpg", dir);
    ck_assert_fails(add_one(dir, missing, &f, &stats), CEREBRO_E_NOT_FOUND, "nothing to index");
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.status[0], CEREBRO_E_NOT_FOUND);
    ck_assert_msg(strstr(f.message[0], "no-such-folder/photo.jpg: No such file or directory"), "%s", f.message[0]);

    /* A path that exists but is neither file nor folder: a failed file. */
    snprintf(fifo, sizeof fifo, "%s/pipe.jpg", dir);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    st = add_one(dir, fifo, &f, &stats);
    ck_assert_msg(st == CEREBRO_OK, "%s", cerebro_last_error());
    ck_assert_uint_eq(stats.failed, 1);
    ck_assert_uint_eq(stats.added, 0);
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.status[0], CEREBRO_E_IO);
    ck_assert_msg(strstr(f.message[0], "pipe.jpg: not a regular file or folder"), "%s", f.message[0]);

    /* 260 nested folders: the walk stops at 256 levels and says so. */
    snprintf(deep, sizeof deep, "%s/deep", dir);
    char *end = deep + strlen(deep);
    for (int i = 0; i < 260; i++)
        end += sprintf(end, "/d");
    mkdirs(deep);
    snprintf(deep, sizeof deep, "%s/deep", dir);
    st = add_one(dir, deep, &f, &stats);
    ck_assert_msg(st == CEREBRO_OK, "%s", cerebro_last_error());
    ck_assert_uint_eq(stats.failed, 1);
    ck_assert_int_eq(f.n, 1);
    ck_assert_int_eq(f.status[0], CEREBRO_E_LIMIT);
    ck_assert_msg(strstr(f.message[0], ": folders nested deeper than 256 levels"), "%.300s", f.message[0]);
    free(long_path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("index_more_errors");
    TCase *tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_bad_index_options);
    tcase_add_test(tc, test_bad_recall_target);
    tcase_add_test(tc, test_recall_target_reached);
    tcase_add_test(tc, test_exact_when_ivf_needs_most_lists);
    tcase_add_test(tc, test_index_folder_is_a_file);
    tcase_add_test(tc, test_store_is_not_sqlite);
    tcase_add_test(tc, test_store_of_another_format);
    tcase_add_test(tc, test_store_with_a_damaged_vector);
    tcase_add_test(tc, test_paths_that_cannot_be_indexed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
