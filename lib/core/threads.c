/* The thread pools of libcerebro's dependencies: libgomp (libtorch's
 * intra-op threads, oneDNN, FAISS, LibRaw) and OpenBLAS's own pthreads
 * (libtorch's fp32 GEMMs). Both are looked up at run time: the library does
 * not link either, and a process may hold another OpenMP runtime or BLAS.
 *
 * Why it matters (docs/threads.md has the measurements): libgomp's idle
 * workers spin for a while after each parallel region unless
 * OMP_WAIT_POLICY=PASSIVE was in the environment when libgomp loaded. While
 * they spin, an OpenBLAS GEMM that runs on its own threads shares the cores
 * with them, and fp32 inference loses half its speed. */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/core.h"

typedef int (*get_fn)(void);
typedef void (*set_fn)(int);

static struct {
    get_fn omp_get;
    set_fn omp_set;
    get_fn blas_get;
    set_fn blas_set;
    int wait; /* libgomp waits 2: passively, 1: after a short spin, 0: after its default spin */
    pthread_mutex_t blas_lock;
    int blas_holders, blas_before;
} rt = {.blas_lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t rt_once = PTHREAD_ONCE_INIT;

/* libgomp reads its wait policy once, when it loads; the environment we
 * see now is that environment unless the process changed it since.
 * GOMP_SPINCOUNT takes precedence over OMP_WAIT_POLICY in libgomp. */
static int wait_policy(void)
{
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if (spin && *spin) {
        char *end;
        unsigned long long n = strtoull(spin, &end, 10);
        if (*end == '\0')
            return n == 0 ? 2 : n <= CB_OMP_SHORT_SPIN ? 1 : 0;
    }
    return policy && strcasecmp(policy, "passive") == 0 ? 2 : 0;
}

static void rt_init(void)
{
    rt.omp_get = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    rt.omp_set = (set_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    rt.blas_get = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    rt.blas_set = (set_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (!rt.omp_get || !rt.omp_set)
        rt.omp_get = NULL, rt.omp_set = NULL;
    if (!rt.blas_get || !rt.blas_set)
        rt.blas_get = NULL, rt.blas_set = NULL;
    rt.wait = wait_policy();
}

int cb_omp_passive(void)
{
    pthread_once(&rt_once, rt_init);
    return rt.wait == 2;
}

int cb_omp_short_spin(void)
{
    pthread_once(&rt_once, rt_init);
    return rt.wait > 0;
}

int cb_omp_hold(int n)
{
    int before;
    pthread_once(&rt_once, rt_init);
    if (!rt.omp_get || n < 1)
        return 0;
    before = rt.omp_get();
    if (before != n)
        rt.omp_set(n);
    return before;
}

void cb_omp_restore(int before)
{
    if (rt.omp_get && before > 0 && rt.omp_get() != before)
        rt.omp_set(before);
}

void cb_blas_set_threads(int n)
{
    pthread_once(&rt_once, rt_init);
    if (rt.blas_set && n > 0) {
        pthread_mutex_lock(&rt.blas_lock);
        if (rt.blas_holders > 0)
            rt.blas_before = n; /* applied when the last holder leaves */
        else
            rt.blas_set(n);
        pthread_mutex_unlock(&rt.blas_lock);
    }
}

void cb_blas_hold_one(void)
{
    pthread_once(&rt_once, rt_init);
    if (!rt.blas_set)
        return;
    pthread_mutex_lock(&rt.blas_lock);
    if (rt.blas_holders++ == 0) {
        rt.blas_before = rt.blas_get();
        if (rt.blas_before != 1)
            rt.blas_set(1);
    }
    pthread_mutex_unlock(&rt.blas_lock);
}

void cb_blas_release(void)
{
    if (!rt.blas_set)
        return;
    pthread_mutex_lock(&rt.blas_lock);
    if (--rt.blas_holders == 0 && rt.blas_before != 1)
        rt.blas_set(rt.blas_before);
    pthread_mutex_unlock(&rt.blas_lock);
}

/* Threads of this process other than the caller that are runnable now
 * (state R in /proc/self/task/TID/stat), counting stops at `limit`. */
static int own_runnable(int limit)
{
    const long self = syscall(SYS_gettid);
    int found = 0;
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return 0;
    struct dirent *e;
    while (found < limit && (e = readdir(dir)) != NULL) {
        char *end, path[64], buf[512];
        long tid = strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || tid == self)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue; /* the thread has ended */
        ssize_t len = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (len <= 0)
            continue;
        buf[len] = '\0';
        /* "tid (comm) S ...": comm may hold anything, the state follows the last ')'. */
        const char *paren = strrchr(buf, ')');
        if (paren && paren[1] == ' ' && paren[2] == 'R')
            found++;
    }
    closedir(dir);
    return found;
}

/* /proc/loadavg's fourth field is "R/T": R scheduling entities runnable
 * now (the caller's own thread among them), T in all. One short read,
 * then, when `spinners` asks and anything besides the caller runs, one
 * read per thread of this process (a few dozen microseconds). */
int cb_cpus_free(int spinners)
{
    char buf[128];
    ssize_t len;
    int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CB_CPUS_UNKNOWN;
    len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0)
        return CB_CPUS_UNKNOWN;
    buf[len] = '\0';
    const char *p = buf;
    for (int field = 0; field < 3; field++) { /* skip the three load averages */
        p = strchr(p, ' ');
        if (!p)
            return CB_CPUS_UNKNOWN;
        p++;
    }
    char *end;
    long running = strtol(p, &end, 10);
    if (end == p || *end != '/' || running < 1 || running > 1000000)
        return CB_CPUS_UNKNOWN;
    int free_cpus = (int)cb_online_cpus() - (int)running;
    if (spinners > 0 && running > 1)
        free_cpus += own_runnable(spinners < running - 1 ? spinners : (int)(running - 1));
    return free_cpus;
}
