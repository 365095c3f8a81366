/* Internal helpers shared by every part of the library: errors, limits,
 * file reading. Nothing here is exported. */
#ifndef CEREBRO_CORE_H
#define CEREBRO_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "cerebro/cerebro.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CB_UNUSED(x) (void)(x)

#if defined(__GNUC__)
#define CB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CB_PRINTF(f, a)
#endif

/* Records a formatted message as the calling thread's last error and
 * returns `status`, so failures read `return cb_fail(CEREBRO_E_IO, ...)`. */
cerebro_status cb_fail(cerebro_status status, const char *fmt, ...) CB_PRINTF(2, 3);

/* Prefixes the current last error with "<name>: " (no-op for NULL name). */
void cb_error_prefix(const char *name);

/* Number of online CPUs, at least 1. */
uint32_t cb_online_cpus(void);

/* Thread pools of the dependencies (core/threads.c; docs/threads.md).
 * cb_omp_hold sets the calling thread's OpenMP thread count to n and returns
 * the count before (0 where no OpenMP runtime is loaded); cb_omp_restore
 * puts it back. cb_blas_set_threads sizes OpenBLAS's pool (process-wide;
 * no-op for another BLAS); cb_blas_hold_one/cb_blas_release bracket work
 * that runs OpenBLAS from several threads at once: one thread each while
 * any holder runs, the size before restored when the last one leaves.
 * cb_omp_passive: libgomp was told to wait passively (OMP_WAIT_POLICY=PASSIVE
 * or GOMP_SPINCOUNT=0); cb_omp_short_spin: that or GOMP_SPINCOUNT <=
 * CB_OMP_SHORT_SPIN (set by the user). */
#define CB_OMP_SHORT_SPIN 10000
int cb_omp_hold(int n);
void cb_omp_restore(int before);
void cb_blas_set_threads(int n);
void cb_blas_hold_one(void);
void cb_blas_release(void);
int cb_omp_passive(void);
int cb_omp_short_spin(void);

/* Online CPUs minus the threads runnable on the machine now, the caller's
 * own included (/proc/loadavg): negative when tasks wait for a CPU,
 * CB_CPUS_UNKNOWN without /proc. Up to `spinners` other runnable threads
 * of this process are not counted: a thread team's members, which spin
 * between the team's calls and would otherwise count against it. A sample
 * of one instant, for deciding whether a thread team would find free
 * cores, never for correctness. */
#define CB_CPUS_UNKNOWN 0x7fff
int cb_cpus_free(int spinners);

/* Seconds on the monotonic clock (for deadlines and durations). */
double cb_now(void);

/* Reads a whole file into a malloc'd buffer, refusing files larger than
 * max_bytes before allocating. Errors name the path. */
cerebro_status cb_read_file(const char *path, uint64_t max_bytes, uint8_t **data, size_t *size);

/* 1 if `name` ends with one of the n extensions (".jpg"), ignoring case,
 * and has something before it. */
int cb_has_extension(const char *name, const char *const *exts, size_t n);

/* a * b (+ c) with overflow detection: returns 0 and sets *out on success. */
int cb_mul_size(size_t a, size_t b, size_t *out);

#ifdef __cplusplus
}
#endif

#endif
