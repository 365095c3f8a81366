/* Character classes with the exact meaning Python gives them (str.isspace,
 * str.lower, the regex module's \s, \p{L}, \p{N} under IGNORECASE), built
 * on utf8proc's Unicode data. tests/text checks every code point against
 * the Python that generated the reference tokens. */
#include <utf8proc.h>

#include "text.h"

int cb_is_re_space(uint32_t cp)
{
    /* Unicode White_Space: the regex module's \s for str patterns. */
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20;
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return 1;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

int cb_is_py_space(uint32_t cp)
{
    /* str.isspace() adds the ASCII separators FS, GS, RS, US (bidi class B/S). */
    return (cp >= 0x1C && cp <= 0x1F) || cb_is_re_space(cp);
}

static int is_letter_category(utf8proc_category_t cat)
{
    return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

cb_char_class cb_char_class_of(uint32_t cp)
{
    utf8proc_category_t cat;

    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
            return CB_CHAR_LETTER;
        if (cp >= '0' && cp <= '9')
            return CB_CHAR_NUMBER;
        return cb_is_re_space(cp) ? CB_CHAR_SPACE : CB_CHAR_OTHER;
    }
    if (cb_is_re_space(cp))
        return CB_CHAR_SPACE;
    /* COMBINING GREEK YPOGEGRAMMENI case-folds to iota, a letter: under
     * IGNORECASE the regex module neither counts it in [\p{L}] nor lets it
     * into [^\s\p{L}\p{N}], so CLIP's pattern drops it. */
    if (cp == 0x345)
        return CB_CHAR_NONE;
    cat = utf8proc_category((utf8proc_int32_t)cp);
    if (is_letter_category(cat))
        return CB_CHAR_LETTER;
    if (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO)
        return CB_CHAR_NUMBER;
    return CB_CHAR_OTHER;
}

size_t cb_lower_full(uint32_t cp, uint32_t out[2])
{
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    /* The one unconditional multi-character lower-case mapping (SpecialCasing). */
    if (cp == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    return 1;
}

int cb_is_cased(uint32_t cp)
{
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    utf8proc_category_t cat = (utf8proc_category_t)p->category;

    /* Lu, Ll, Lt, or anything with a case mapping (Other_Lowercase and
     * Other_Uppercase: circled letters, Roman numerals, ...). */
    if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
        return 1;
    return p->lowercase_seqindex != UINT16_MAX || p->uppercase_seqindex != UINT16_MAX ||
           p->titlecase_seqindex != UINT16_MAX;
}

int cb_is_case_ignorable(uint32_t cp)
{
    utf8proc_category_t cat;

    /* Word_Break MidLetter, MidNumLet and Single_Quote. */
    switch (cp) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52:
    case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default:
        break;
    }
    cat = utf8proc_category((utf8proc_int32_t)cp);
    return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
           cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
           cat == UTF8PROC_CATEGORY_SK;
}
