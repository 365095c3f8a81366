/* Internal core helpers: SHA-256 against FIPS 180-4 vectors, whole-file
 * reading limits, error prefixing. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/sha256.h"

static void hex_of(const void *data, size_t len, char hex[65])
{
    uint8_t d[32];
    ck_assert_int_eq(cb_sha256(data, len, d), CEREBRO_OK);
    cb_sha256_hex(d, hex);
}

START_TEST(test_sha256_vectors)
{
    char hex[65];
    hex_of("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(test_sha256_streaming)
{
    /* One million 'a' in memory equals the published digest; three million
     * in a file (read in several chunks) equal coreutils' sha256sum. */
    static char buf[3000000];
    uint8_t d[32];
    char hex[65], path[512];
    const char *dir = getenv("CEREBRO_TEST_TMP");
    memset(buf, 'a', sizeof buf);
    hex_of(buf, 1000000, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    mkdir(dir ? dir : "/tmp", 0755);
    snprintf(path, sizeof path, "%s/core-sha256-3M", dir ? dir : "/tmp");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, sizeof buf, f), sizeof buf);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(cb_sha256_file(path, d), CEREBRO_OK);
    cb_sha256_hex(d, hex);
    ck_assert_str_eq(hex, "2a152c894398719c0570f83fac34ac03a0f6e8e474b995c2403aa5434f7b9dd4");
    ck_assert_int_eq(cb_sha256_file("/nonexistent/model.pt", d), CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "/nonexistent/model.pt: cannot open"));
    ck_assert_int_eq(cb_sha256_file("/", d), CEREBRO_E_IO);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "/: read error while hashing"));
    unlink(path);
}
END_TEST

static const char *tmp_file(const char *name, const char *content)
{
    static char path[512];
    const char *dir = getenv("CEREBRO_TEST_TMP");
    mkdir(dir ? dir : "/tmp", 0755);
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "/tmp", name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    return path;
}

START_TEST(test_read_file)
{
    const char *p = tmp_file("core-read.txt", "hello world");
    uint8_t *data = NULL;
    size_t size = 0;
    uint8_t digest[32];
    char hex[65];

    ck_assert_int_eq(cb_read_file(p, 100, &data, &size), CEREBRO_OK);
    ck_assert_uint_eq(size, 11);
    ck_assert_mem_eq(data, "hello world", 11);
    free(data);

    ck_assert_int_eq(cb_read_file(p, 10, &data, &size), CEREBRO_E_LIMIT);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "core-read.txt"));
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "limit of 10 bytes"));

    ck_assert_int_eq(cb_read_file("/nonexistent/x.jpg", 100, &data, &size), CEREBRO_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(cerebro_last_error(), "/nonexistent/x.jpg"));
    ck_assert_int_eq(cb_read_file("/", 100, &data, &size), CEREBRO_E_IO);

    ck_assert_int_eq(cb_sha256_file(p, digest), CEREBRO_OK);
    cb_sha256_hex(digest, hex);
    ck_assert_str_eq(hex, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
}
END_TEST

START_TEST(test_error_prefix)
{
    cb_fail(CEREBRO_E_CORRUPT, "truncated JPEG data");
    cb_error_prefix("photo.jpg");
    ck_assert_str_eq(cerebro_last_error(), "photo.jpg: truncated JPEG data");
    cb_error_prefix(NULL);
    ck_assert_str_eq(cerebro_last_error(), "photo.jpg: truncated JPEG data");

    /* Overlong names and messages are truncated, never overflowed. */
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cb_fail(CEREBRO_E_IO, "%s", big);
    cb_error_prefix(big);
    ck_assert_uint_lt(strlen(cerebro_last_error()), 1024);
    ck_assert_int_eq(cb_fail(CEREBRO_E_LIMIT, "x"), CEREBRO_E_LIMIT);

    /* A library's text with line breaks and a trailing newline: one line. */
    cb_fail(CEREBRO_E_CORRUPT, "%s: %s", "a.heic", "Invalid input: bad box\r\n\tdetail\n");
    ck_assert_str_eq(cerebro_last_error(), "a.heic: Invalid input: bad box   detail");
}
END_TEST

START_TEST(test_mul_size)
{
    size_t out = 0;
    ck_assert_int_eq(cb_mul_size(1000, 1000, &out), 0);
    ck_assert_uint_eq(out, 1000000);
    ck_assert_int_eq(cb_mul_size(SIZE_MAX / 2, 3, &out), -1);
    ck_assert_int_eq(cb_mul_size(0, SIZE_MAX, &out), 0);
    ck_assert_uint_eq(out, 0);
}
END_TEST

/* Threads that stay runnable until told to stop. */
static atomic_int spin_stop, spin_started;

static void *spinner(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spin_started, 1);
    while (!atomic_load(&spin_stop))
        ;
    return NULL;
}

START_TEST(test_cpus_free_counts_runnable_threads)
{
    enum { SPINNERS = 3 };
    pthread_t tid[SPINNERS];
    int online = (int)cb_online_cpus();

    /* The caller itself is runnable while it reads. */
    int idle = cb_cpus_free(0);
    ck_assert_int_ne(idle, CB_CPUS_UNKNOWN); /* Linux has /proc/loadavg */
    ck_assert_int_le(idle, online - 1);
    atomic_store(&spin_stop, 0);
    atomic_store(&spin_started, 0);
    for (int i = 0; i < SPINNERS; i++)
        ck_assert_int_eq(pthread_create(&tid[i], NULL, spinner, NULL), 0);
    while (atomic_load(&spin_started) < SPINNERS)
        sched_yield();
    int busy = cb_cpus_free(0);
    /* A team's own spinning members are not load: up to `spinners` of the
     * process's runnable threads are left out, and no more. Other processes
     * may change the machine's count between two reads, so each pair is
     * read a few times; the spinners stay runnable throughout. */
    int all_left_out = 0, one_left_out = 0;
    for (int i = 0; i < 50 && !(all_left_out && one_left_out); i++) {
        int counted = cb_cpus_free(0), three = cb_cpus_free(SPINNERS), one = cb_cpus_free(1);
        int again = cb_cpus_free(0);
        if (counted != again)
            continue;
        all_left_out |= three - counted == SPINNERS;
        one_left_out |= one - counted == 1;
    }
    atomic_store(&spin_stop, 1);
    for (int i = 0; i < SPINNERS; i++)
        pthread_join(tid[i], NULL);
    /* Whatever else the machine runs, the spinners and the caller wait for
     * or hold a CPU. */
    ck_assert_int_le(busy, online - 1 - SPINNERS);
    ck_assert_msg(all_left_out, "cb_cpus_free(%d) did not leave out this process's %d spinners", SPINNERS,
                  SPINNERS);
    ck_assert_msg(one_left_out, "cb_cpus_free(1) did not leave out exactly one spinner");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core-internal");
    TCase *tc = tcase_create("internal");
    tcase_add_test(tc, test_sha256_vectors);
    tcase_add_test(tc, test_sha256_streaming);
    tcase_add_test(tc, test_read_file);
    tcase_add_test(tc, test_error_prefix);
    tcase_add_test(tc, test_mul_size);
    tcase_add_test(tc, test_cpus_free_counts_runnable_threads);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
