/* What the corpus-driven image tests (test_decode.c: JPEG and PNG;
 * test_formats.c: every other format) share: the corpus folder named by an
 * environment variable, its manifest.txt walked line by line, the decode
 * parameters and the status names the manifests use. Define
 * CORPUS_ENV (the variable's name) before including. Test-only. */
#ifndef CEREBRO_TEST_IMAGE_CORPUS_H
#define CEREBRO_TEST_IMAGE_CORPUS_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cerebro/cerebro.h"
#include "core/core.h"
#include "image/image.h"

#ifndef CORPUS_ENV
#error "define CORPUS_ENV to the environment variable naming the corpus folder"
#endif

static char *corpus_path(const char *rel)
{
    const char *dir = getenv(CORPUS_ENV);
    size_t n;
    char *p;

    ck_assert_msg(dir != NULL, "%s is not set (run through ctest)", CORPUS_ENV);
    n = strlen(dir) + strlen(rel) + 2;
    p = malloc(n);
    ck_assert_ptr_nonnull(p);
    snprintf(p, n, "%s/%s", dir, rel);
    return p;
}

static uint8_t *read_all(const char *rel, size_t *size)
{
    char *path = corpus_path(rel);
    uint8_t *data = NULL;

    ck_assert_msg(cb_read_file(path, UINT64_MAX, &data, size) == CEREBRO_OK, "%s: %s", path,
                  cerebro_last_error());
    free(path);
    return data;
}

static cb_decode_params params_for(uint32_t min_short, int exif, const uint8_t bg[3])
{
    cb_decode_params p;
    static const uint8_t white[3] = {255, 255, 255};

    ck_assert_int_eq(cb_decode_params_from(NULL, 0, &p), CEREBRO_OK);
    p.min_short_side = min_short;
    p.apply_exif = exif;
    memcpy(p.background, bg ? bg : white, 3);
    return p;
}

static cerebro_status status_from_name(const char *name)
{
    static const cerebro_status all[] = {
        CEREBRO_E_INVALID, CEREBRO_E_NOMEM, CEREBRO_E_IO, CEREBRO_E_FORMAT, CEREBRO_E_CORRUPT,
        CEREBRO_E_LIMIT, CEREBRO_E_UNSUPPORTED, CEREBRO_E_NOT_FOUND,
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = cerebro_status_string(all[i]);
        size_t n = strlen(name);
        /* The manifest says "LIMIT"; the status string "CEREBRO_E_LIMIT: ...". */
        if (strncmp(name, "CEREBRO_E_", 10) != 0 && strncmp(s, "CEREBRO_E_", 10) == 0)
            s += 10;
        if (strncmp(s, name, n) == 0 && s[n] == ':')
            return all[i];
    }
    ck_abort_msg("unknown status name %s", name);
    return CEREBRO_OK;
}

typedef void (*case_fn)(char **f, int nf, void *ctx);

/* Calls fn for every manifest line whose first word is `kind`. */
static int for_each_case(const char *kind, case_fn fn, void *ctx)
{
    char *path = corpus_path("manifest.txt");
    FILE *m = fopen(path, "r");
    char line[2048];
    int count = 0;

    ck_assert_msg(m != NULL, "cannot open %s", path);
    while (fgets(line, sizeof line, m)) {
        char *f[16], *save = NULL;
        int nf = 0;

        for (char *t = strtok_r(line, " \n", &save); t && nf < 16; t = strtok_r(NULL, " \n", &save))
            f[nf++] = t;
        if (nf > 0 && strcmp(f[0], kind) == 0) {
            fn(f, nf, ctx);
            count++;
        }
    }
    fclose(m);
    free(path);
    return count;
}

static void assert_names(const char *label)
{
    const char *msg = cerebro_last_error();
    size_t n = strlen(label);

    ck_assert_msg(strncmp(msg, label, n) == 0 && strncmp(msg + n, ": ", 2) == 0,
                  "message \"%s\" does not start with \"%s: \"", msg, label);
    ck_assert_msg(strlen(msg) > n + 6, "message \"%s\" says nothing", msg);
}

#endif
