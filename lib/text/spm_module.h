/* The interface of the SentencePiece module (lib/text/spm/spm_module.cpp,
 * built as libcerebro-spm.so and installed in <libdir>/cerebro/).
 *
 * Why a module: Debian's libsentencepiece.so.0 carries its own copy of
 * protobuf-lite 3.14 and exports all of its symbols, while libtorch loads
 * the system libprotobuf.so.32 (3.21). Linked into one process's global
 * scope, each binds to the other's functions: libprotobuf's static
 * initialisers crash, or libsentencepiece refuses to run ("compiled against
 * version 3.14.0"). spm.c therefore dlopen()s this module RTLD_LOCAL |
 * RTLD_DEEPBIND, so libsentencepiece resolves its protobuf symbols to its
 * own copy and none of them enter the global scope.
 *
 * Plain C across the boundary; no C++ exception crosses it. */
#ifndef CEREBRO_TEXT_SPM_MODULE_H
#define CEREBRO_TEXT_SPM_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CB_SPM_MODULE_ABI 1
#define CB_SPM_MODULE_FILE "libcerebro-spm.so"
#define CB_SPM_MODULE_ENTRY "cerebro_spm_module_v1"

/* Functions return a cerebro_status; on failure `msg` (cap bytes) says why. */
typedef struct cb_spm_module {
    uint32_t abi; /* CB_SPM_MODULE_ABI */
    cerebro_status (*load)(const void *data, size_t len, void **handle, char *msg, size_t cap);
    void (*free)(void *handle);
    int32_t (*piece_count)(const void *handle);
    int32_t (*eos_id)(const void *handle);
    int32_t (*bos_id)(const void *handle);
    int32_t (*pad_id)(const void *handle);
    /* *ids: malloc'd (free() it), *n of them; NULL when n is 0. */
    cerebro_status (*encode)(const void *handle, const char *text, size_t len, int32_t **ids,
                             size_t *n, char *msg, size_t cap);
} cb_spm_module;

typedef const cb_spm_module *(*cb_spm_module_entry)(void);

#ifdef __cplusplus
}
#endif

#endif
