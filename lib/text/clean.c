/* CLIP's whitespace_clean() and lower-casing, with Python's semantics:
 *   text.strip(); regex.sub(r'\s+', ' ', text).strip(); text.lower()
 * and SigLIP's canonicalisation (string.punctuation removed, re's \s runs
 * collapsed, strip()).
 * strip() removes str.isspace() characters, which are a superset of the
 * regex module's \s (FS, GS, RS and US are only the former). */
#include <string.h>

#include "text.h"

#define CAPITAL_SIGMA 0x3A3u
#define SMALL_SIGMA 0x3C3u
#define FINAL_SIGMA 0x3C2u

static void strip(const uint32_t *s, size_t *lo, size_t *hi)
{
    while (*lo < *hi && cb_is_py_space(s[*lo]))
        (*lo)++;
    while (*hi > *lo && cb_is_py_space(s[*hi - 1]))
        (*hi)--;
}

/* Python's Final_Sigma test for s[i] within s[lo, hi): a cased letter
 * before it and none after it, skipping case-ignorable characters. */
static int is_final_sigma(const uint32_t *s, size_t lo, size_t hi, size_t i)
{
    size_t j = i;

    while (j > lo && cb_is_case_ignorable(s[j - 1]))
        j--;
    if (j == lo || !cb_is_cased(s[j - 1]))
        return 0;
    for (j = i + 1; j < hi && cb_is_case_ignorable(s[j]); j++)
        ;
    return j == hi || !cb_is_cased(s[j]);
}

size_t cb_text_clean(uint32_t *in, size_t n, uint32_t *out)
{
    size_t lo = 0, hi = n, m = 0;

    strip(in, &lo, &hi);
    for (size_t i = lo; i < hi;) {
        if (!cb_is_re_space(in[i])) {
            in[m++] = in[i++];
            continue;
        }
        in[m++] = ' ';
        while (i < hi && cb_is_re_space(in[i]))
            i++;
    }
    lo = 0;
    hi = m;
    strip(in, &lo, &hi);
    return cb_text_lower(in + lo, hi - lo, out);
}

size_t cb_text_lower(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (in[i] == CAPITAL_SIGMA)
            out[o++] = is_final_sigma(in, 0, n, i) ? FINAL_SIGMA : SMALL_SIGMA;
        else
            o += cb_lower_full(in[i], out + o);
    }
    return o;
}

/* Python's string.punctuation: the ASCII punctuation characters. */
static int is_ascii_punct(uint32_t cp)
{
    return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
           (cp >= 0x7B && cp <= 0x7E);
}

size_t cb_text_canonicalize(uint32_t *s, size_t n)
{
    size_t m = 0, lo = 0, hi;

    for (size_t i = 0; i < n;) {
        if (is_ascii_punct(s[i])) {
            i++;
        } else if (!cb_is_py_space(s[i])) {
            s[m++] = s[i++];
        } else {
            /* Punctuation removal comes first, so a run of spaces split
             * by punctuation is one run. */
            s[m++] = ' ';
            while (i < n && (cb_is_py_space(s[i]) || is_ascii_punct(s[i])))
                i++;
        }
    }
    hi = m;
    strip(s, &lo, &hi);
    if (lo > 0)
        memmove(s, s + lo, (hi - lo) * sizeof *s);
    return hi - lo;
}
