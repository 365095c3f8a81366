/* Strict UTF-8 decoding and encoding (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
#include "text.h"

size_t cb_utf8_decode(const uint8_t *s, size_t len, uint32_t *out, size_t *bad_offset)
{
    size_t i = 0, n = 0;

    while (i < len) {
        uint32_t c = s[i], min;
        size_t extra;

        if (c < 0x80) {
            out[n++] = c;
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            c &= 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            c &= 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            c &= 0x07;
            min = 0x10000;
        } else {
            *bad_offset = i;
            return SIZE_MAX;
        }
        if (len - i <= extra) {
            *bad_offset = i;
            return SIZE_MAX;
        }
        for (size_t k = 1; k <= extra; k++) {
            uint8_t b = s[i + k];
            if ((b & 0xC0) != 0x80) {
                *bad_offset = i;
                return SIZE_MAX;
            }
            c = (c << 6) | (b & 0x3Fu);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
            *bad_offset = i;
            return SIZE_MAX;
        }
        out[n++] = c;
        i += extra + 1;
    }
    return n;
}

size_t cb_utf8_put(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}
