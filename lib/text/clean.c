/* CLIP's whitespace_clean() and lower-casing, with Python's semantics:
 *   text.strip(); regex.sub(r'\s+', ' ', text).strip(); text.lower()
 * strip() removes str.isspace() characters, which are a superset of the
 * regex module's \s (FS, GS, RS and US are only the former). */
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
    size_t lo = 0, hi = n, m = 0, o = 0;

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
    for (size_t i = lo; i < hi; i++) {
        if (in[i] == CAPITAL_SIGMA)
            out[o++] = is_final_sigma(in, lo, hi, i) ? FINAL_SIGMA : SMALL_SIGMA;
        else
            o += cb_lower_full(in[i], out + o);
    }
    return o;
}
