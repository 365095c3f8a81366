/* EXIF orientation: read tag 0x0112 from IFD0 of an untrusted TIFF-structured
 * block, then turn the pixels upright the way PIL's ImageOps.exif_transpose()
 * does. The reader follows PIL 9.4's TiffImagePlugin rules so that both
 * agree on which files are rotated:
 *   - headers "II*\0", "MM\0*" and the tolerated "MM*\0", "II\0*", "MM\0+"
 *     are read as classic TIFF (PIL reads "MM\0+" that way too); anything
 *     else, including little-endian BigTIFF which PIL fails on, has none;
 *   - IFD0 entries are read in order until one does not fit; an entry whose
 *     out-of-line value lies outside the block ends the walk (PIL stops on
 *     that "Truncated File Read"); entries of unknown type are skipped;
 *   - the last readable 0x0112 entry wins, its first value counts, and any
 *     numeric type whose value equals 2..8 exactly applies (PIL compares
 *     the value with integer dict keys, so 6.0 and 12/2 match, the BYTE
 *     and UNDEFINED types, which PIL keeps as bytes, do not). */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

enum { TAG_ORIENTATION = 0x0112, ENTRY_SIZE = 12, TILE = 64 };

typedef struct tiff_block {
    const uint8_t *p;
    size_t n;
    int big_endian;
} tiff_block;

static int fits(const tiff_block *t, uint64_t off, uint64_t len)
{
    return off <= t->n && len <= t->n - off;
}

static uint64_t get_u(const tiff_block *t, size_t off, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        int k = t->big_endian ? i : bytes - 1 - i;
        v = (v << 8) | t->p[off + (size_t)k];
    }
    return v;
}

/* Bytes per value of the TIFF types PIL 9.4 can load; 0 for the others. */
static unsigned type_size(uint32_t type)
{
    switch (type) {
    case 1: case 2: case 6: case 7: return 1;   /* BYTE ASCII SBYTE UNDEFINED */
    case 3: case 8: return 2;                   /* SHORT SSHORT */
    case 4: case 9: case 11: case 13: return 4; /* LONG SLONG FLOAT IFD */
    case 5: case 10: case 12: case 16: return 8; /* RATIONAL SRATIONAL DOUBLE LONG8 */
    default: return 0;
    }
}

static int orientation_from_double(double v)
{
    return (isfinite(v) && v >= 2 && v <= 8 && v == floor(v)) ? (int)v : 0;
}

/* The first value at `off` as PIL would compare it with 2..8; 0 otherwise. */
static int orientation_value(const tiff_block *t, uint32_t type, size_t off)
{
    int64_t v;
    float f;
    double d;
    uint64_t bits;

    switch (type) {
    case 3: v = (int64_t)get_u(t, off, 2); break;
    case 4: case 13: v = (int64_t)get_u(t, off, 4); break;
    case 16: bits = get_u(t, off, 8); v = bits > 8 ? 0 : (int64_t)bits; break;
    case 6: v = (int8_t)get_u(t, off, 1); break;
    case 8: v = (int16_t)get_u(t, off, 2); break;
    case 9: v = (int32_t)get_u(t, off, 4); break;
    case 11:
        bits = get_u(t, off, 4);
        {
            uint32_t b32 = (uint32_t)bits;
            memcpy(&f, &b32, sizeof f);
        }
        return orientation_from_double(f);
    case 12:
        bits = get_u(t, off, 8);
        memcpy(&d, &bits, sizeof d);
        return orientation_from_double(d);
    case 5: case 10: {
        int64_t num, den;
        if (type == 5) {
            num = (int64_t)get_u(t, off, 4);
            den = (int64_t)get_u(t, off + 4, 4);
        } else {
            num = (int32_t)get_u(t, off, 4);
            den = (int32_t)get_u(t, off + 4, 4);
        }
        if (den == 0 || num % den != 0)
            return 0;
        v = num / den;
        break;
    }
    default: return 0; /* bytes or text in PIL: never equal to an int */
    }
    return (v >= 2 && v <= 8) ? (int)v : 0;
}

int cb_exif_orientation(const uint8_t *tiff, size_t size)
{
    tiff_block t = {tiff, size, 0};
    uint64_t ifd, count;
    uint32_t found_type = 0;
    size_t found_off = 0;

    if (!tiff || size < 8)
        return 0;
    if (!memcmp(tiff, "II*\0", 4) || !memcmp(tiff, "II\0*", 4))
        t.big_endian = 0;
    else if (!memcmp(tiff, "MM\0*", 4) || !memcmp(tiff, "MM*\0", 4) || !memcmp(tiff, "MM\0+", 4))
        t.big_endian = 1;
    else
        return 0;

    ifd = get_u(&t, 4, 4);
    if (!fits(&t, ifd, 2))
        return 0;
    count = get_u(&t, (size_t)ifd, 2);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t entry = ifd + 2 + i * ENTRY_SIZE, value_off, bytes;
        uint32_t tag, type;
        unsigned unit;

        if (!fits(&t, entry, ENTRY_SIZE))
            break;
        tag = (uint32_t)get_u(&t, (size_t)entry, 2);
        type = (uint32_t)get_u(&t, (size_t)entry + 2, 2);
        unit = type_size(type);
        if (unit == 0)
            continue;
        bytes = get_u(&t, (size_t)entry + 4, 4) * unit;
        value_off = entry + 8;
        if (bytes > 4) {
            value_off = get_u(&t, (size_t)entry + 8, 4);
            if (!fits(&t, value_off, bytes))
                break;
        }
        if (bytes == 0)
            continue;
        if (tag == TAG_ORIENTATION) {
            found_type = type;
            found_off = (size_t)value_off;
        }
    }
    return found_type ? orientation_value(&t, found_type, found_off) : 0;
}

static void swap_pixels(uint8_t *a, uint8_t *b)
{
    uint8_t tmp[3];
    memcpy(tmp, a, 3);
    memcpy(a, b, 3);
    memcpy(b, tmp, 3);
}

static void flip_left_right(cerebro_image *img)
{
    size_t w = img->width;
    for (size_t y = 0; y < img->height; y++) {
        uint8_t *row = img->pixels + y * w * 3;
        for (size_t x = 0; x < w / 2; x++)
            swap_pixels(row + x * 3, row + (w - 1 - x) * 3);
    }
}

static void flip_top_bottom(cerebro_image *img)
{
    size_t stride = (size_t)img->width * 3, h = img->height;
    for (size_t y = 0; y < h / 2; y++) {
        uint8_t *a = img->pixels + y * stride, *b = img->pixels + (h - 1 - y) * stride;
        for (size_t i = 0; i < stride; i += 3)
            swap_pixels(a + i, b + i);
    }
}

/* Orientations 5..8: output pixel (x, y) of the H x W result comes from
 * input column sx and row sy, where a transposition maps x to a row and y
 * to a column, each possibly mirrored. */
static cerebro_status transpose(cerebro_image **image, int flip_rows, int flip_cols,
                                const char *label)
{
    const cerebro_image *in = *image;
    size_t w = in->width, h = in->height;
    cerebro_image *out = NULL;
    cerebro_status st = cb_image_new(in->height, in->width, 0, label, &out);

    if (st != CEREBRO_OK)
        return st;
    /* Tiles keep both the reads and the writes inside the cache: a phone
     * photo rotated column by column would miss on every pixel. */
    for (size_t y0 = 0; y0 < w; y0 += TILE) {
        for (size_t x0 = 0; x0 < h; x0 += TILE) {
            size_t y1 = y0 + TILE < w ? y0 + TILE : w, x1 = x0 + TILE < h ? x0 + TILE : h;
            for (size_t y = y0; y < y1; y++) {
                size_t sx = flip_cols ? w - 1 - y : y;
                uint8_t *dst = out->pixels + y * h * 3;
                for (size_t x = x0; x < x1; x++) {
                    size_t sy = flip_rows ? h - 1 - x : x;
                    memcpy(dst + x * 3, in->pixels + (sy * w + sx) * 3, 3);
                }
            }
        }
    }
    cerebro_image_free(*image);
    *image = out;
    return CEREBRO_OK;
}

static cerebro_status apply_pixels(cerebro_image **image, int orientation, const char *label);

/* Moves the content box and the original size the way the pixels moved:
 * a mirrored axis puts its partial pixel first; 5..8 swap the axes. */
static void orient_box(cerebro_image *img, int orientation)
{
    /* Size before the transform: 5..8 have already swapped width/height. */
    float w = (float)(orientation >= 5 ? img->height : img->width);
    float h = (float)(orientation >= 5 ? img->width : img->height);
    float x0 = img->box[0], y0 = img->box[1], x1 = img->box[2], y1 = img->box[3];
    float b[4];

    switch (orientation) {
    case 2: b[0] = w - x1, b[1] = y0, b[2] = w - x0, b[3] = y1; break;
    case 3: b[0] = w - x1, b[1] = h - y1, b[2] = w - x0, b[3] = h - y0; break;
    case 4: b[0] = x0, b[1] = h - y1, b[2] = x1, b[3] = h - y0; break;
    case 5: b[0] = y0, b[1] = x0, b[2] = y1, b[3] = x1; break;
    case 6: b[0] = h - y1, b[1] = x0, b[2] = h - y0, b[3] = x1; break;
    case 7: b[0] = h - y1, b[1] = w - x1, b[2] = h - y0, b[3] = w - x0; break;
    case 8: b[0] = y0, b[1] = w - x1, b[2] = y1, b[3] = w - x0; break;
    default: return;
    }
    memcpy(img->box, b, sizeof b);
    if (orientation >= 5) {
        uint32_t t = img->full_width;
        img->full_width = img->full_height;
        img->full_height = t;
    }
}

cerebro_status cb_image_apply_orientation(cerebro_image **image, int orientation,
                                          const char *label)
{
    cerebro_image saved = **image;
    cerebro_status st = apply_pixels(image, orientation, label);

    if (st == CEREBRO_OK && orientation >= 2 && orientation <= 8) {
        (*image)->full_width = saved.full_width;
        (*image)->full_height = saved.full_height;
        memcpy((*image)->box, saved.box, sizeof saved.box);
        orient_box(*image, orientation);
    }
    return st;
}

static cerebro_status apply_pixels(cerebro_image **image, int orientation, const char *label)
{
    switch (orientation) {
    case 2: flip_left_right(*image); return CEREBRO_OK;   /* FLIP_LEFT_RIGHT */
    case 3:                                               /* ROTATE_180 */
        flip_left_right(*image);
        flip_top_bottom(*image);
        return CEREBRO_OK;
    case 4: flip_top_bottom(*image); return CEREBRO_OK;   /* FLIP_TOP_BOTTOM */
    case 5: return transpose(image, 0, 0, label);          /* TRANSPOSE */
    case 6: return transpose(image, 1, 0, label);          /* ROTATE_270 (clockwise) */
    case 7: return transpose(image, 1, 1, label);          /* TRANSVERSE */
    case 8: return transpose(image, 0, 1, label);          /* ROTATE_90 (counter-clockwise) */
    default: return CEREBRO_OK;
    }
}
