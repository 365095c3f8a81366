/* Clustered synthetic embeddings for the ANN tests and benchmark: a mixture
 * of isotropic Gaussians around random centres, L2-normalised like CLIP
 * embeddings. Deterministic for given seeds, so a test's data never changes
 * and held-out queries (another point_seed, same centre_seed) come from the
 * same clusters. Header-only: tests/index and bench/ both include it. */
#ifndef CEREBRO_TESTS_CLUSTERED_H
#define CEREBRO_TESTS_CLUSTERED_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline uint64_t clustered_next(uint64_t *s)
{
    /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static inline double clustered_uniform(uint64_t *s)
{
    return ((clustered_next(s) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* Fills x[0..count) with standard normal samples (Box-Muller, both outputs). */
static inline void clustered_gauss(uint64_t *s, float *x, size_t count)
{
    for (size_t i = 0; i < count; i += 2) {
        double r = sqrt(-2.0 * log(clustered_uniform(s))), t = 6.283185307179586 * clustered_uniform(s);
        x[i] = (float)(r * cos(t));
        if (i + 1 < count)
            x[i + 1] = (float)(r * sin(t));
    }
}

static inline void clustered_normalise(float *v, uint32_t dim)
{
    double s = 0;
    for (uint32_t j = 0; j < dim; j++)
        s += (double)v[j] * v[j];
    float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    for (uint32_t j = 0; j < dim; j++)
        v[j] *= inv;
}

/* n unit vectors: each picks one of `clusters` centres (unit vectors drawn
 * from centre_seed) and adds Gaussian noise of norm ~spread. spread 1 gives
 * cosine ~0.5 within a cluster and ~0 across clusters. Returns 0, or -1 when
 * out of memory. */
static inline int clustered_vectors(float *x, size_t n, uint32_t dim, size_t clusters, float spread,
                                    uint64_t centre_seed, uint64_t point_seed)
{
    float *centres = (float *)malloc(clusters * dim * sizeof(float));
    if (!centres)
        return -1;
    uint64_t cs = centre_seed, ps = point_seed;
    clustered_gauss(&cs, centres, clusters * dim);
    for (size_t c = 0; c < clusters; c++)
        clustered_normalise(centres + c * dim, dim);
    float scale = spread / sqrtf((float)dim);
    for (size_t i = 0; i < n; i++) {
        float *v = x + i * dim;
        const float *c = centres + (clustered_next(&ps) % clusters) * dim;
        clustered_gauss(&ps, v, dim);
        for (uint32_t j = 0; j < dim; j++)
            v[j] = c[j] + scale * v[j];
        clustered_normalise(v, dim);
    }
    free(centres);
    return 0;
}

#endif
