/* PIL-exact bicubic resampling of 8-bit RGB images, whole or a window.
 *
 * Fidelity rules (each one is needed for bit-exact parity with Pillow 9.4):
 *   - weights are computed in double exactly as Pillow's precompute_coeffs()
 *     does (same expression order: centre, window rounding, filter argument
 *     multiplied by the reciprocal of the filter scale, normalisation by the
 *     sum), then rounded to 22-bit fixed point away from zero;
 *   - each pass accumulates in int32 from 1 << 21 and clamps (sum >> 22)
 *     to 0..255, so the intermediate image is rounded to uint8 as in PIL;
 *   - horizontal pass first, then vertical; a pass whose size does not
 *     change is skipped (Pillow's need_horizontal / need_vertical).
 * Integer sums are exact, so the order of additions is free: the SIMD
 * kernels give the same bytes as the scalar ones. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/resample.h"

/* AVX2 kernels are chosen at run time; -DCEREBRO_NO_SIMD leaves only the
 * portable ones (the tests run those too, through CB_RESAMPLE_SCALAR). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(CEREBRO_NO_SIMD)
#include <immintrin.h>
#define CB_HAVE_AVX2_KERNELS 1
#endif

enum {
    PRECISION_BITS = 22,
    HALF = 1 << (PRECISION_BITS - 1),
    /* Taps are processed four at a time by the SIMD horizontal kernel. */
    TAP_GROUP = 4
};

/* Coefficients of one axis for the outputs [o0, o0 + n). */
typedef struct axis {
    uint32_t n;
    uint32_t ksize;   /* stride of coef, >= every count */
    uint32_t *start;  /* first input index of each output */
    uint32_t *count;  /* number of inputs of each output */
    int32_t *coef;    /* n * ksize fixed-point weights */
    int16_t *coef16;  /* horizontal SIMD layout (see horiz_row_avx2), or NULL */
    uint32_t kpad;    /* ksize rounded up to TAP_GROUP */
} axis;

/* Pillow's bicubic kernel, a = -0.5, written in the same operation order. */
static double bicubic(double x)
{
    if (x < 0.0)
        x = -x;
    if (x < 1.0)
        return ((-0.5 + 2.0) * x - (-0.5 + 3.0)) * x * x + 1;
    if (x < 2.0)
        return (((x - 5) * x + 8) * x - 4) * -0.5;
    return 0.0;
}

static void axis_free(axis *ax)
{
    free(ax->start);
    free(ax->count);
    free(ax->coef);
    free(ax->coef16);
    memset(ax, 0, sizeof *ax);
}

/* The AVX2 horizontal kernel multiplies 16-bit pixels by 16-bit weights
 * (pmaddwd), so each 22-bit weight k is split as k = hi * 2^11 + lo with
 * 0 <= lo < 2^11; sum(p * hi) * 2^11 + sum(p * lo) is the same integer as
 * sum(p * k) (int32 wrap-around cannot change a result that fits, and
 * Pillow's does). Per group of four taps t..t+3 the layout is 16 lo
 * values then 16 hi values, each lane-ordered like the pixel shuffle:
 * [k0 k1 k0 k1 k0 k1 0 0 | k2 k3 k2 k3 k2 k3 0 0]. */
static void split_coefficients(const int32_t *k, uint32_t count, int16_t *out)
{
    for (uint32_t t = 0; t < count; t++) {
        int16_t lo = (int16_t)(k[t] & 0x7ff), hi = (int16_t)(k[t] >> 11);
        int16_t *group = out + (size_t)(t / TAP_GROUP) * 32;
        uint32_t lane = (t % TAP_GROUP) / 2, pos = t % 2;
        for (uint32_t c = 0; c < 3; c++) {
            group[lane * 8 + c * 2 + pos] = lo;
            group[16 + lane * 8 + c * 2 + pos] = hi;
        }
    }
}

/* Fills ax for in_size pixels, of which [in0, in1) map onto out_size
 * outputs, for the outputs [o0, o0 + n). With simd, also the split layout
 * the AVX2 horizontal kernel reads. */
static cerebro_status axis_init(axis *ax, uint32_t in_size, float in0, float in1,
                                uint32_t out_size, uint32_t o0, uint32_t n, int simd)
{
    /* Pillow: scale = (double)(in1 - in0) / outSize, the box edges being
     * floats subtracted in float. */
    float extent = in1 - in0;
    double scale = (double)extent / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 2.0 * filterscale;
    double ss = 1.0 / filterscale;
    double *w = NULL;
    size_t total;

    memset(ax, 0, sizeof *ax);
    ax->n = n;
    ax->ksize = (uint32_t)ceil(support) * 2 + 1;
    ax->kpad = (ax->ksize + TAP_GROUP - 1) / TAP_GROUP * TAP_GROUP;
    if (cb_mul_size(n, ax->kpad, &total) != 0 || total > SIZE_MAX / (8 * sizeof(int16_t)))
        return cb_fail(CEREBRO_E_LIMIT, "resample: %u -> %u needs too many coefficients", in_size,
                       out_size);
    ax->start = malloc(n * sizeof *ax->start);
    ax->count = malloc(n * sizeof *ax->count);
    ax->coef = calloc((size_t)n * ax->ksize, sizeof *ax->coef);
    if (simd)
        ax->coef16 = calloc(total * 8, sizeof *ax->coef16);
    w = malloc(ax->ksize * sizeof *w);
    if (!ax->start || !ax->count || !ax->coef || (simd && !ax->coef16) || !w) {
        free(w);
        axis_free(ax);
        return cb_fail(CEREBRO_E_NOMEM, "resample: cannot allocate coefficients for %u -> %u",
                       in_size, out_size);
    }
    for (uint32_t i = 0; i < n; i++) {
        int xx = (int)(o0 + i);
        double center = in0 + (xx + 0.5) * scale;
        double ww = 0.0;
        int xmin = (int)(center - support + 0.5);
        int xmax = (int)(center + support + 0.5);
        int32_t *k = ax->coef + (size_t)i * ax->ksize;

        if (xmin < 0)
            xmin = 0;
        if (xmax > (int)in_size)
            xmax = (int)in_size;
        xmax -= xmin;
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
        }
        ax->start[i] = (uint32_t)xmin;
        ax->count[i] = (uint32_t)xmax;
        if (simd)
            split_coefficients(k, (uint32_t)xmax, ax->coef16 + (size_t)i * ax->kpad * 8);
    }
    free(w);
    return CEREBRO_OK;
}

static inline uint8_t clip8(int32_t sum)
{
    int32_t v = sum >> PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One output pixel of the horizontal pass. */
static inline void horiz_pixel(const uint8_t *row, const axis *ax, uint32_t i, uint8_t *out)
{
    const int32_t *k = ax->coef + (size_t)i * ax->ksize;
    const uint8_t *p = row + (size_t)ax->start[i] * 3;
    int32_t s0 = HALF, s1 = HALF, s2 = HALF;

    for (uint32_t t = 0; t < ax->count[i]; t++, p += 3) {
        s0 += p[0] * k[t];
        s1 += p[1] * k[t];
        s2 += p[2] * k[t];
    }
    out[0] = clip8(s0);
    out[1] = clip8(s1);
    out[2] = clip8(s2);
}

static void horiz_row_scalar(const uint8_t *row, uint32_t in_w, const axis *ax, uint8_t *out)
{
    CB_UNUSED(in_w);
    for (uint32_t i = 0; i < ax->n; i++)
        horiz_pixel(row, ax, i, out + (size_t)i * 3);
}

/* Bytes [from, to) of one output row of the vertical pass: rows[t] is the
 * input row of tap t. */
static void vert_span(const uint8_t *const *rows, const int32_t *k, uint32_t taps, size_t from,
                      size_t to, uint8_t *out)
{
    for (size_t j = from; j < to; j++) {
        int32_t s = HALF;
        for (uint32_t t = 0; t < taps; t++)
            s += rows[t][j] * k[t];
        out[j] = clip8(s);
    }
}

static void vert_row_scalar(const uint8_t *const *rows, const int32_t *k, uint32_t taps,
                            size_t len, uint8_t *out)
{
    vert_span(rows, k, taps, 0, len, out);
}

#ifdef CB_HAVE_AVX2_KERNELS
/* Horizontal pass, four taps per step: a 16-byte load holds pixels t..t+3
 * (12 bytes used), broadcast to both 128-bit lanes; one shuffle makes
 * 16-bit channel pairs [R0 R1 G0 G1 B0 B1 0 0 | R2 R3 G2 G3 B2 B3 0 0] and
 * pmaddwd against the split weights gives int32 [R G B 0] partial sums.
 * The load reads 4 bytes past the last padded tap, so an output takes
 * this path only when those bytes are still inside the row; the others
 * (the last few of a row at most) go scalar. */
#define CB_AVX2 __attribute__((target("avx2")))
#define CB_AVX2_INLINE __attribute__((target("avx2"), always_inline)) inline

/* Taps of one output over `groups` groups, as [R G B 0 | R G B 0] sums
 * whose two lanes still have to be added; the rounding half is included. */
static CB_AVX2_INLINE __m256i taps_avx2(const uint8_t *p, const int16_t *k, uint32_t groups)
{
    const __m256i pairs = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1,
                                           6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
    __m256i lo = _mm256_setr_epi32(HALF, HALF, HALF, 0, 0, 0, 0, 0), hi = _mm256_setzero_si256();

    for (uint32_t g = 0; g < groups; g++, p += 12, k += 32) {
        __m256i px = _mm256_shuffle_epi8(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p)), pairs);
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(px, _mm256_loadu_si256((const __m256i *)k)));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(px, _mm256_loadu_si256((const __m256i *)(k + 16))));
    }
    return _mm256_add_epi32(_mm256_slli_epi32(hi, 11), lo);
}

static inline uint32_t groups_of(uint32_t count)
{
    return (count + TAP_GROUP - 1) / TAP_GROUP;
}

CB_AVX2 static void horiz_row_avx2(const uint8_t *row, uint32_t in_w, const axis *ax, uint8_t *out)
{
    const __m256i dwords = _mm256_setr_epi32(0, 4, 1, 5, 0, 0, 0, 0);
    const __m128i compact = _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1);
    const size_t row_bytes = (size_t)in_w * 3;
    const size_t kstride = (size_t)ax->kpad * 8;
    uint32_t i = 0;

    /* Four outputs at a time share one loop (ILP) and one pack and store.
     * Window starts never decrease, so the last output's bound covers all. */
    for (; i + 4 <= ax->n; i += 4) {
        const int16_t *k = ax->coef16 + i * kstride;
        uint32_t g = groups_of(ax->count[i]), v;
        __m256i a0, a1, a2, a3, s01, s23;
        __m128i x;

        for (uint32_t j = 1; j < 4; j++)
            if (groups_of(ax->count[i + j]) > g)
                g = groups_of(ax->count[i + j]);
        if ((size_t)ax->start[i + 3] * 3 + (size_t)g * 12 + 4 > row_bytes)
            break;
        a0 = taps_avx2(row + (size_t)ax->start[i] * 3, k, g);
        a1 = taps_avx2(row + (size_t)ax->start[i + 1] * 3, k + kstride, g);
        a2 = taps_avx2(row + (size_t)ax->start[i + 2] * 3, k + 2 * kstride, g);
        a3 = taps_avx2(row + (size_t)ax->start[i + 3] * 3, k + 3 * kstride, g);
        s01 = _mm256_add_epi32(_mm256_permute2x128_si256(a0, a1, 0x20),
                               _mm256_permute2x128_si256(a0, a1, 0x31));
        s23 = _mm256_add_epi32(_mm256_permute2x128_si256(a2, a3, 0x20),
                               _mm256_permute2x128_si256(a2, a3, 0x31));
        s01 = _mm256_srai_epi32(s01, PRECISION_BITS);
        s23 = _mm256_srai_epi32(s23, PRECISION_BITS);
        /* Per lane: bytes [o0 | o2] and [o1 | o3]; gather o0 o1 o2 o3. */
        s01 = _mm256_packus_epi16(_mm256_packs_epi32(s01, s23), _mm256_setzero_si256());
        x = _mm_shuffle_epi8(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(s01, dwords)),
                             compact);
        _mm_storel_epi64((__m128i *)(out + (size_t)i * 3), x);
        v = (uint32_t)_mm_extract_epi32(x, 2);
        memcpy(out + (size_t)i * 3 + 8, &v, 4);
    }
    for (; i < ax->n; i++) {
        uint32_t g = groups_of(ax->count[i]), v;
        size_t first = (size_t)ax->start[i] * 3;
        __m256i a;
        __m128i sum;

        if (first + (size_t)g * 12 + 4 > row_bytes) {
            horiz_pixel(row, ax, i, out + (size_t)i * 3);
            continue;
        }
        a = taps_avx2(row + first, ax->coef16 + i * kstride, g);
        sum = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        sum = _mm_srai_epi32(sum, PRECISION_BITS);
        sum = _mm_packus_epi16(_mm_packs_epi32(sum, sum), sum);
        v = (uint32_t)_mm_cvtsi128_si32(sum);
        memcpy(out + (size_t)i * 3, &v, 3);
    }
}

/* Eight bytes of a row, widened to int32 and multiplied by one weight. */
static CB_AVX2_INLINE __m256i mul8_avx2(const uint8_t *p, __m256i k)
{
    return _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)), k);
}

/* Vertical pass, 32 bytes of the row at a time in four int32x8 sums. */
CB_AVX2 static void vert_row_avx2(const uint8_t *const *rows, const int32_t *k, uint32_t taps,
                                  size_t len, uint8_t *out)
{
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t j = 0;

    for (; j + 32 <= len; j += 32) {
        __m256i a0 = _mm256_set1_epi32(HALF), a1 = a0, a2 = a0, a3 = a0;
        for (uint32_t t = 0; t < taps; t++) {
            const uint8_t *p = rows[t] + j;
            __m256i kt = _mm256_set1_epi32(k[t]);
            a0 = _mm256_add_epi32(a0, mul8_avx2(p, kt));
            a1 = _mm256_add_epi32(a1, mul8_avx2(p + 8, kt));
            a2 = _mm256_add_epi32(a2, mul8_avx2(p + 16, kt));
            a3 = _mm256_add_epi32(a3, mul8_avx2(p + 24, kt));
        }
        a0 = _mm256_srai_epi32(a0, PRECISION_BITS);
        a1 = _mm256_srai_epi32(a1, PRECISION_BITS);
        a2 = _mm256_srai_epi32(a2, PRECISION_BITS);
        a3 = _mm256_srai_epi32(a3, PRECISION_BITS);
        /* packs/packus work per 128-bit lane; the permute restores order. */
        a0 = _mm256_packus_epi16(_mm256_packs_epi32(a0, a1), _mm256_packs_epi32(a2, a3));
        _mm256_storeu_si256((__m256i *)(out + j), _mm256_permutevar8x32_epi32(a0, order));
    }
    vert_span(rows, k, taps, j, len, out);
}

static int have_avx2(void)
{
    return __builtin_cpu_supports("avx2");
}
#endif

typedef void (*horiz_fn)(const uint8_t *row, uint32_t in_w, const axis *ax, uint8_t *out);
typedef void (*vert_fn)(const uint8_t *const *rows, const int32_t *k, uint32_t taps, size_t len,
                        uint8_t *out);

cerebro_status cb_resample_window(const cerebro_image *src, const cb_resample_job *job,
                                  uint8_t *dst, size_t dst_stride)
{
    axis hx = {0}, vy = {0};
    uint8_t *tmp = NULL;
    const uint8_t **rows = NULL;
    const uint8_t *mid;   /* rows the vertical pass reads */
    uint32_t out_w = job->out_w, out_h = job->out_h, x0 = job->x0, y0 = job->y0;
    uint32_t cw = job->cw, ch = job->ch;
    int whole = job->box[0] == 0 && job->box[1] == 0 && job->box[2] == 0 && job->box[3] == 0;
    float bx0 = whole ? 0 : job->box[0], by0 = whole ? 0 : job->box[1];
    float bx1 = whole ? (float)src->width : job->box[2];
    float by1 = whole ? (float)src->height : job->box[3];
    size_t mid_stride, row_len = (size_t)cw * 3, tmp_size;
    uint32_t r0, r1;      /* input rows the window needs */
    /* Pillow's need_horizontal / need_vertical, box included. */
    int need_h = out_w != src->width || bx0 != 0 || bx1 != (float)out_w;
    int need_v = out_h != src->height || by0 != 0 || by1 != (float)out_h;
    int simd = 0;
    horiz_fn horiz = horiz_row_scalar;
    vert_fn vert = vert_row_scalar;
    cerebro_status st = CEREBRO_OK;

    if (out_w == 0 || out_h == 0 || out_w > CB_RESAMPLE_MAX_OUT || out_h > CB_RESAMPLE_MAX_OUT ||
        cw == 0 || ch == 0 || x0 > out_w - cw || cw > out_w || y0 > out_h - ch || ch > out_h ||
        dst_stride < row_len)
        return cb_fail(CEREBRO_E_INVALID,
                       "resample: window %ux%u at (%u,%u) does not fit a %ux%u output", cw, ch, x0,
                       y0, out_w, out_h);
    if (!(bx0 >= 0 && bx0 < bx1 && bx1 <= (float)src->width && by0 >= 0 && by0 < by1 &&
          by1 <= (float)src->height))
        return cb_fail(CEREBRO_E_INVALID, "resample: box (%g, %g, %g, %g) outside the %ux%u source",
                       (double)bx0, (double)by0, (double)bx1, (double)by1, src->width, src->height);
#ifdef CB_HAVE_AVX2_KERNELS
    if (!(job->flags & CB_RESAMPLE_SCALAR) && have_avx2()) {
        simd = 1;
        horiz = horiz_row_avx2;
        vert = vert_row_avx2;
    }
#endif

    if (need_v) {
        if ((st = axis_init(&vy, src->height, by0, by1, out_h, y0, ch, 0)) != CEREBRO_OK)
            goto done;
        r0 = vy.start[0];
        r1 = vy.start[ch - 1] + vy.count[ch - 1];
    } else {
        r0 = y0;
        r1 = y0 + ch;
    }

    if (need_h) {
        if ((st = axis_init(&hx, src->width, bx0, bx1, out_w, x0, cw, simd)) != CEREBRO_OK)
            goto done;
        if (cb_mul_size(r1 - r0, row_len, &tmp_size) != 0 || !(tmp = malloc(tmp_size))) {
            st = cb_fail(CEREBRO_E_NOMEM, "resample: cannot allocate %u rows of %zu bytes",
                         r1 - r0, row_len);
            goto done;
        }
        for (uint32_t r = r0; r < r1; r++)
            horiz(src->pixels + (size_t)r * src->width * 3, src->width, &hx,
                  tmp + (size_t)(r - r0) * row_len);
        mid = tmp;
        mid_stride = row_len;
    } else {
        mid = src->pixels + (size_t)r0 * src->width * 3 + (size_t)x0 * 3;
        mid_stride = (size_t)src->width * 3;
    }

    if (!need_v) {
        for (uint32_t y = 0; y < ch; y++)
            memcpy(dst + (size_t)y * dst_stride, mid + (size_t)y * mid_stride, row_len);
        goto done;
    }
    rows = malloc(vy.ksize * sizeof *rows);
    if (!rows) {
        st = cb_fail(CEREBRO_E_NOMEM, "resample: out of memory");
        goto done;
    }
    for (uint32_t y = 0; y < ch; y++) {
        uint32_t first = vy.start[y] - r0;
        for (uint32_t t = 0; t < vy.count[y]; t++)
            rows[t] = mid + (size_t)(first + t) * mid_stride;
        vert(rows, vy.coef + (size_t)y * vy.ksize, vy.count[y], row_len,
             dst + (size_t)y * dst_stride);
    }

done:
    free(rows);
    free(tmp);
    axis_free(&hx);
    axis_free(&vy);
    return st;
}

cerebro_status cerebro_image_resize(cerebro_image **out, const cerebro_image *image,
                                    uint32_t width, uint32_t height)
{
    cerebro_image_options defaults;
    cb_resample_job job = {0};
    uint64_t limit;
    cerebro_status st;

    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_resize: out is NULL");
    *out = NULL;
    if (!image || !image->pixels)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_resize: image is NULL");
    if (width == 0 || height == 0)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_resize: target size %ux%u is empty", width,
                       height);
    /* No options here: the output may be as large as the default pixel
     * limit or the source, whichever is larger. */
    cerebro_image_options_init(&defaults);
    limit = defaults.max_pixels;
    if ((uint64_t)image->width * image->height > limit)
        limit = (uint64_t)image->width * image->height;
    if ((st = cb_image_new(width, height, limit, "cerebro_image_resize", out)) != CEREBRO_OK)
        return st;
    job.out_w = job.cw = width;
    job.out_h = job.ch = height;
    st = cb_resample_window(image, &job, (*out)->pixels, (size_t)width * 3);
    if (st != CEREBRO_OK) {
        cerebro_image_free(*out);
        *out = NULL;
    }
    return st;
}
