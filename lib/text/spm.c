/* SentencePiece models through the module (spm_module.h says why it is a
 * module): found next to libcerebro (<dir of libcerebro>/cerebro/), or in
 * the build tree, loaded once per process on first use. The module handle
 * and table are the only process-wide state, written once under
 * pthread_once and never freed. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/spm.h"
#include "text/spm_module.h"

#if defined(__SANITIZE_ADDRESS__)
#define CB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CB_ASAN 1
#endif
#endif

struct cb_spm {
    void *handle;
};

static pthread_once_t module_once = PTHREAD_ONCE_INIT;
static const cb_spm_module *module;
static char module_error[1300];

static void *open_module(const char *path)
{
    int flags = RTLD_NOW | RTLD_LOCAL;
#ifndef CB_ASAN
    /* ASan's runtime refuses RTLD_DEEPBIND; sanitizer builds rely on
     * libprotobuf not being loaded (tests without libtorch). */
    flags |= RTLD_DEEPBIND;
#endif
    return dlopen(path, flags);
}

static void load_module(void)
{
    char paths[2][600];
    int n = 0;
    Dl_info info;
    void *lib = NULL;

    /* Installed: <libdir>/cerebro/ beside libcerebro.so. */
    if (dladdr((void *)load_module, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        int dir = slash ? (int)(slash - info.dli_fname) : 1;
        snprintf(paths[n++], sizeof paths[0], "%.*s/cerebro/%s", dir, slash ? info.dli_fname : ".",
                 CB_SPM_MODULE_FILE);
    }
#ifdef CEREBRO_SPM_MODULE_BUILD
    /* Programs and tests in the build tree that link lib/'s objects. */
    snprintf(paths[n++], sizeof paths[0], "%s", CEREBRO_SPM_MODULE_BUILD);
#endif
    snprintf(module_error, sizeof module_error, "SentencePiece support (%s) not found",
             CB_SPM_MODULE_FILE);
    for (int i = 0; i < n && !lib; i++) {
        lib = open_module(paths[i]);
        if (!lib && i == 0)
            snprintf(module_error, sizeof module_error, "cannot load %.600s: %.600s", paths[i], dlerror());
    }
    if (!lib)
        return;
    cb_spm_module_entry entry = (cb_spm_module_entry)dlsym(lib, CB_SPM_MODULE_ENTRY);
    const cb_spm_module *m = entry ? entry() : NULL;
    if (!m || m->abi != CB_SPM_MODULE_ABI) {
        snprintf(module_error, sizeof module_error, "%s is not this library's SentencePiece module",
                 CB_SPM_MODULE_FILE);
        return;
    }
    module = m;
}

static cerebro_status need_module(const char *what)
{
    pthread_once(&module_once, load_module);
    if (!module)
        return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: %s", what, module_error);
    return CEREBRO_OK;
}

cerebro_status cb_spm_load(const void *data, size_t len, const char *label, cb_spm **out)
{
    const char *what = label ? label : "SentencePiece model";
    char msg[512] = "";
    cb_spm *spm;
    cerebro_status st;
    int32_t n;

    *out = NULL;
    if (!data && len)
        return cb_fail(CEREBRO_E_INVALID, "%s: model data is NULL", what);
    if (len > CB_SPM_MAX_BYTES)
        return cb_fail(CEREBRO_E_LIMIT, "%s: SentencePiece model is %zu bytes, over the limit of %zu",
                       what, len, CB_SPM_MAX_BYTES);
    if ((st = need_module(what)) != CEREBRO_OK)
        return st;
    if (!(spm = calloc(1, sizeof *spm)))
        return cb_fail(CEREBRO_E_NOMEM, "%s: out of memory", what);
    st = module->load(data ? data : "", len, &spm->handle, msg, sizeof msg);
    if (st != CEREBRO_OK) {
        free(spm);
        if (st == CEREBRO_E_FORMAT)
            return cb_fail(st, "%s: not a SentencePiece model libsentencepiece loads (%s)", what, msg);
        return cb_fail(st, "%s: %s", what, msg);
    }
    n = module->piece_count(spm->handle);
    if (n < 1 || n > (1 << 24)) {
        st = cb_fail(n < 1 ? CEREBRO_E_FORMAT : CEREBRO_E_LIMIT,
                     "%s: SentencePiece model has %d pieces (1..%d supported)", what, n, 1 << 24);
        cb_spm_free(spm);
        return st;
    }
    *out = spm;
    return CEREBRO_OK;
}

void cb_spm_free(cb_spm *spm)
{
    if (!spm)
        return;
    if (spm->handle)
        module->free(spm->handle);
    free(spm);
}

uint32_t cb_spm_piece_count(const cb_spm *spm)
{
    return (uint32_t)module->piece_count(spm->handle);
}

int32_t cb_spm_eos_id(const cb_spm *spm)
{
    return module->eos_id(spm->handle);
}

int32_t cb_spm_bos_id(const cb_spm *spm)
{
    return module->bos_id(spm->handle);
}

int32_t cb_spm_pad_id(const cb_spm *spm)
{
    return module->pad_id(spm->handle);
}

cerebro_status cb_spm_encode(const cb_spm *spm, const char *text, size_t len, size_t limit,
                             cb_ids *out)
{
    char msg[512] = "";
    int32_t *ids = NULL;
    size_t n = 0;
    cerebro_status st = module->encode(spm->handle, text, len, &ids, &n, msg, sizeof msg);

    if (st != CEREBRO_OK)
        return cb_fail(st, "cerebro_tokenizer_encode: libsentencepiece: %s", msg);
    if (limit > 0 && n > limit)
        n = limit;
    if (cb_ids_reserve(out, n) != 0) {
        free(ids);
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_tokenizer_encode: out of memory");
    }
    if (n)
        memcpy(out->v + out->n, ids, n * sizeof *ids);
    out->n += n;
    free(ids);
    return CEREBRO_OK;
}
