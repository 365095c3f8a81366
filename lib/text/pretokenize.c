/* CLIP's pre-tokenizer, the regex-module pattern (re.IGNORECASE)
 *   <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|
 *   [\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 * applied as regex.findall() does: at each position the first alternative
 * that matches wins; positions no alternative matches (whitespace) are
 * skipped. Linear in the text: every alternative consumes what it reads. */
#include <string.h>

#include "text.h"

static const char SOT_LITERAL[] = "<|startoftext|>";
static const char EOT_LITERAL[] = "<|endoftext|>";

/* IGNORECASE equality with one character of the pattern (ASCII lower-case
 * letter or punctuation), using simple case folding as the regex module
 * does: LATIN SMALL LETTER LONG S folds to 's'. */
static int folds_to(uint32_t c, char want)
{
    uint32_t w = (uint32_t)(unsigned char)want;

    if (c == w)
        return 1;
    if (w >= 'a' && w <= 'z' && c == w - 32)
        return 1;
    return w == 's' && c == 0x17F;
}

/* Length of the literal matched at cps[i] (0: none); *exact tells whether
 * the text is the literal itself rather than a case-folded variant. */
static size_t match_literal(const uint32_t *cps, size_t n, size_t i, const char *lit, int *exact)
{
    size_t len = strlen(lit);

    if (n - i < len)
        return 0;
    *exact = 1;
    for (size_t k = 0; k < len; k++) {
        if (!folds_to(cps[i + k], lit[k]))
            return 0;
        if (cps[i + k] != (uint32_t)(unsigned char)lit[k])
            *exact = 0;
    }
    return len;
}

/* 's 't 're 've 'm 'll 'd at cps[i] == '\''; returns the length or 0. */
static size_t match_contraction(const uint32_t *cps, size_t n, size_t i)
{
    static const char *const endings[] = {"s", "t", "re", "ve", "m", "ll", "d"};

    for (size_t e = 0; e < sizeof endings / sizeof endings[0]; e++) {
        size_t len = strlen(endings[e]), k;
        if (n - i - 1 < len)
            continue;
        for (k = 0; k < len && folds_to(cps[i + 1 + k], endings[e][k]); k++)
            ;
        if (k == len)
            return len + 1;
    }
    return 0;
}

int cb_pretokenize_next(const uint32_t *cps, size_t n, size_t *pos, cb_piece *piece)
{
    size_t i = *pos, end;

    for (;; i++) {
        cb_char_class cls;
        int exact = 0;

        if (i >= n) {
            *pos = n;
            return 0;
        }
        piece->start = i;
        piece->kind = CB_PIECE_TEXT;
        if (cps[i] == '<') {
            if ((end = match_literal(cps, n, i, SOT_LITERAL, &exact)) != 0) {
                piece->kind = exact ? CB_PIECE_SOT : CB_PIECE_TEXT;
                end += i;
                break;
            }
            if ((end = match_literal(cps, n, i, EOT_LITERAL, &exact)) != 0) {
                piece->kind = exact ? CB_PIECE_EOT : CB_PIECE_TEXT;
                end += i;
                break;
            }
        }
        if (cps[i] == '\'' && (end = match_contraction(cps, n, i)) != 0) {
            end += i;
            break;
        }
        cls = cb_char_class_of(cps[i]);
        if (cls == CB_CHAR_SPACE || cls == CB_CHAR_NONE)
            continue;
        end = i + 1;
        if (cls != CB_CHAR_NUMBER)
            while (end < n && cb_char_class_of(cps[end]) == cls)
                end++;
        break;
    }
    piece->end = end;
    *pos = end;
    return 1;
}
