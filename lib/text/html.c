/* Python's html.unescape() on code points: the same regular expression
 *   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
 * scanned left to right, and the same replacement rules (HTML5 named
 * references with longest-prefix matching for the legacy names without ';',
 * numeric references through html's fix-up tables). */
#include <string.h>

#include "text.h"

enum { NAME_MAX_CHARS = 32, PREFIX_MIN_CHARS = 2 };
/* Numeric references saturate here: anything above U+10FFFF reads alike. */
#define CHARREF_TOO_BIG 0x110000u

static int is_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(uint32_t c)
{
    if (is_digit(c))
        return (int)(c - '0');
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (int)((c | 0x20) - 'a' + 10);
    return -1;
}

static int is_ascii_alnum(uint32_t c)
{
    return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static int ends_name(uint32_t c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
           c == ';';
}

/* The entity named by the `len` ASCII bytes of `name`, or NULL. */
static const cb_html_entity *find_entity(const char *name, size_t len)
{
    size_t lo = 0, hi = cb_html_entity_count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *cand = cb_html_entities[mid].name;
        size_t cand_len = strlen(cand);
        int c = memcmp(name, cand, len < cand_len ? len : cand_len);
        if (c == 0)
            c = len < cand_len ? -1 : len > cand_len ? 1 : 0;
        if (c == 0)
            return &cb_html_entities[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static size_t put_entity(const cb_html_entity *e, uint32_t *out)
{
    out[0] = e->cp[0];
    if (e->cp[1] == 0)
        return 1;
    out[1] = e->cp[1];
    return 2;
}

/* html._replace_charref for a numeric reference. */
static size_t put_charref(uint32_t num, uint32_t *out)
{
    if (num < 0xA0 && cb_html_charref_fix[num] != 0)
        out[0] = cb_html_charref_fix[num];
    else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
        out[0] = 0xFFFD;
    else if (cb_html_codepoint_dropped(num))
        return 0;
    else
        out[0] = num;
    return 1;
}

/* Tries the numeric alternatives at in[i] == '#'. Returns the number of
 * code points consumed (0: no match) and writes the replacement. */
static size_t numeric_ref(const uint32_t *in, size_t n, size_t i, uint32_t *out, size_t *o)
{
    uint32_t num = 0;
    size_t k = i + 1;

    if (k < n && is_digit(in[k])) {
        for (; k < n && is_digit(in[k]); k++)
            num = num >= CHARREF_TOO_BIG ? CHARREF_TOO_BIG : num * 10 + (in[k] - '0');
    } else if (k + 1 < n && (in[k] == 'x' || in[k] == 'X') && hex_value(in[k + 1]) >= 0) {
        for (k++; k < n && hex_value(in[k]) >= 0; k++)
            num = num >= CHARREF_TOO_BIG ? CHARREF_TOO_BIG : num * 16 + (uint32_t)hex_value(in[k]);
    } else {
        return 0;
    }
    if (num > CHARREF_TOO_BIG)
        num = CHARREF_TOO_BIG;
    if (k < n && in[k] == ';')
        k++;
    *o += put_charref(num, out + *o);
    return k - i;
}

/* The named alternative at in[i] (just past '&'). Returns the number of
 * code points consumed (0: no match) and writes the replacement. */
static size_t named_ref(const uint32_t *in, size_t n, size_t i, uint32_t *out, size_t *o)
{
    char key[NAME_MAX_CHARS + 1];
    size_t chars = 0, alnum = 0, matched = 0, total, x;
    const cb_html_entity *e = NULL;

    while (i + chars < n && chars < NAME_MAX_CHARS && !ends_name(in[i + chars]))
        chars++;
    if (chars == 0)
        return 0;
    total = chars + (i + chars < n && in[i + chars] == ';');
    while (alnum < chars && is_ascii_alnum(in[i + alnum])) {
        key[alnum] = (char)in[i + alnum];
        alnum++;
    }
    /* Every entity name is ASCII letters and digits, maybe with a final ';'. */
    if (alnum == chars) {
        key[chars] = ';';
        if ((e = find_entity(key, total)) != NULL)
            matched = total;
    }
    /* Else the longest prefix of 2 or more characters, shorter than the match. */
    for (x = total - 1 < alnum ? total - 1 : alnum; !e && x >= PREFIX_MIN_CHARS; x--)
        if ((e = find_entity(key, x)) != NULL)
            matched = x;
    if (e)
        *o += put_entity(e, out + *o);
    else
        out[(*o)++] = '&';
    memcpy(out + *o, in + i + matched, (total - matched) * sizeof *in);
    *o += total - matched;
    return total;
}

size_t cb_html_unescape(const uint32_t *in, size_t n, uint32_t *out)
{
    size_t i = 0, o = 0;

    while (i < n) {
        size_t used;

        if (in[i] != '&') {
            out[o++] = in[i++];
            continue;
        }
        if (i + 1 < n && in[i + 1] == '#')
            used = numeric_ref(in, n, i + 1, out, &o);
        else
            used = named_ref(in, n, i + 1, out, &o);
        if (used == 0)
            out[o++] = '&';
        i += 1 + used;
    }
    return o;
}
