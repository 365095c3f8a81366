/* BMP decoding with gdk-pixbuf's BMP loader (the maintained decoder Debian
 * ships in libgdk-pixbuf-2.0-0), behind our own header check.
 *
 * We read the file and info headers ourselves (bounds-checked) so that the
 * size is judged against the limits before the loader allocates anything;
 * the loader's "size-prepared" signal confirms that it sees the same size.
 * Header kinds: OS/2 1.x (12 bytes) and Windows 40/52/56/64/108/124 bytes
 * (v3, v4 and v5); anything else is refused before the loader runs.
 *
 * Output matches PIL 9.4's Image.open(f).convert("RGB") (convert("RGBA")
 * composited on params->background where PIL reads alpha) for 1/4/8-bit
 * palette, RLE4/RLE8, 16-bit 5-5-5 and 5-6-5, 24-bit and 32-bit, bottom-up
 * and top-down, with these rules of PIL's that gdk-pixbuf does not share:
 *   - alpha only for 32-bit BI_BITFIELDS with an alpha mask: a 32-bit
 *     BI_RGB file's fourth byte is ignored (gdk-pixbuf reads it as alpha);
 *   - 5- and 6-bit channels scaled as v * 255 / 31 (or 63), rounded down;
 *     gdk-pixbuf replicates the top bits (up to 1 level higher), so the
 *     16-bit rows are re-expanded here from the bits the loader kept;
 *   - RLE pixels the stream never sets (skipped by a delta or an early
 *     end of line or bitmap) are palette entry 0, not transparent.
 * Truncated uncompressed pixel data is an error (PIL's "image file is
 * truncated"); gdk-pixbuf would hand back a partly filled image. A palette
 * count above 2^bits is refused before the loader sees it (gdk-pixbuf
 * refuses it too, but only after sizing a buffer by it; PIL reads up to
 * 65536 entries). RLE follows the BMP specification where PIL 9.4 does
 * not: after a delta record PIL reads two bytes too many, and it refuses
 * a bitmap that ends early; both keep the unset pixels at entry 0 here.
 * BMP has no EXIF: *exif stays empty.
 *
 * Thread safety: gdk-pixbuf loads its modules under its own lock, and a
 * loader object is used by one call only. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

enum { FILE_HEADER = 14, BI_RGB = 0, BI_RLE8 = 1, BI_RLE4 = 2, BI_BITFIELDS = 3,
       BI_ALPHABITFIELDS = 6 };

typedef struct bmp_header {
    uint32_t width, height;
    uint32_t info_size;
    uint32_t data_offset;
    uint16_t bits;
    uint32_t compression;
    uint32_t masks[4]; /* r, g, b, a (BI_BITFIELDS only) */
    uint32_t colors;   /* palette entries */
    int top_down;
} bmp_header;

typedef struct bmp_job {
    const char *label;
    const bmp_header *head;
    int size_seen;
    int size_differs;
} bmp_job;

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static cerebro_status truncated_header(const char *label, size_t size)
{
    return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated BMP: the header ends at byte %zu", label,
                   size);
}

/* The headers, as far as the limits and our fix-ups need them. */
static cerebro_status read_header(const uint8_t *d, size_t n, const char *label, bmp_header *h)
{
    int32_t w, hh;

    memset(h, 0, sizeof *h);
    if (n < FILE_HEADER + 4)
        return truncated_header(label, n);
    h->data_offset = le32(d + 10);
    h->info_size = le32(d + 14);
    switch (h->info_size) {
    case 12: case 40: case 52: case 56: case 64: case 108: case 124: break;
    default:
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt BMP: unknown info header size %u", label,
                       h->info_size);
    }
    if (n < FILE_HEADER + (size_t)h->info_size)
        return truncated_header(label, n);
    if (h->info_size == 12) {
        h->width = le16(d + 18);
        h->height = le16(d + 20);
        h->bits = (uint16_t)le16(d + 24);
        h->colors = h->bits <= 8 ? 1u << h->bits : 0;
        return CEREBRO_OK;
    }
    w = (int32_t)le32(d + 18);
    hh = (int32_t)le32(d + 22);
    if (w <= 0 || hh == 0 || hh == INT32_MIN)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt BMP: bad size %dx%d", label, w, hh);
    h->width = (uint32_t)w;
    h->top_down = hh < 0;
    h->height = (uint32_t)(hh < 0 ? -hh : hh);
    h->bits = (uint16_t)le16(d + 28);
    h->compression = le32(d + 30);
    h->colors = le32(d + 46);
    /* gdk-pixbuf would size a buffer by this count before refusing it. */
    if (h->bits <= 8 && h->colors > (1u << h->bits))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt BMP: a palette of %u colours for %u-bit "
                       "pixels", label, h->colors, h->bits);
    if (h->bits <= 8 && h->colors == 0)
        h->colors = 1u << h->bits;
    if (h->compression == BI_BITFIELDS || h->compression == BI_ALPHABITFIELDS) {
        /* Masks follow a 40-byte header, or sit inside a longer one. */
        size_t at = FILE_HEADER + 40, count = h->compression == BI_ALPHABITFIELDS ? 4 : 3;
        if (h->info_size >= 56)
            count = 4;
        else if (h->info_size == 52)
            count = 3;
        if (n < at + 4 * count)
            return truncated_header(label, n);
        for (size_t i = 0; i < count; i++)
            h->masks[i] = le32(d + at + 4 * i);
    }
    return CEREBRO_OK;
}

/* Where the palette starts and how many bytes an entry takes. */
static size_t palette_at(const bmp_header *h, size_t *entry)
{
    size_t at = FILE_HEADER + h->info_size;

    *entry = h->info_size == 12 ? 3 : 4;
    if (h->info_size == 40 && h->compression == BI_BITFIELDS)
        at += 12;
    if (h->info_size == 40 && h->compression == BI_ALPHABITFIELDS)
        at += 16;
    return at;
}

/* Uncompressed rows must all be there: PIL refuses a short file. */
static cerebro_status check_data_size(const bmp_header *h, size_t n, const char *label)
{
    uint64_t row, need;

    if (h->compression != BI_RGB && h->compression != BI_BITFIELDS &&
        h->compression != BI_ALPHABITFIELDS)
        return CEREBRO_OK;
    row = (((uint64_t)h->width * h->bits + 31) / 32) * 4;
    need = (uint64_t)h->data_offset + row * h->height;
    if (need > n)
        return cb_fail(CEREBRO_E_CORRUPT,
                       "%s: truncated BMP: the pixels end at byte %llu, the file at byte %zu",
                       label, (unsigned long long)need, n);
    return CEREBRO_OK;
}

static void on_size_prepared(GdkPixbufLoader *loader, gint width, gint height, gpointer user)
{
    bmp_job *job = user;

    CB_UNUSED(loader);
    job->size_seen = 1;
    if (width < 0 || height < 0 || (uint32_t)width != job->head->width ||
        (uint32_t)height != job->head->height)
        job->size_differs = 1;
}

/* PIL's alpha rule: 32-bit bit fields with an alpha mask. */
static int uses_alpha(const bmp_header *h)
{
    return h->bits == 32 && (h->compression == BI_BITFIELDS || h->compression == BI_ALPHABITFIELDS) &&
           h->masks[3] != 0;
}

/* gdk-pixbuf's 5/6-bit expansion (v << 3 | v >> 2) back to PIL's
 * v * 255 / 31, for the two 16-bit layouts PIL reads. */
static uint8_t rescale(uint8_t v, int bits)
{
    unsigned top = v >> (8 - bits), max = (1u << bits) - 1;
    return (uint8_t)(top * 255 / max);
}

static void sixteen_bit_bits(const bmp_header *h, int bits[3])
{
    bits[0] = bits[1] = bits[2] = 5;
    if (h->compression == BI_BITFIELDS && h->masks[0] == 0xF800 && h->masks[1] == 0x07E0 &&
        h->masks[2] == 0x001F)
        bits[1] = 6;
    else if (h->compression == BI_BITFIELDS &&
             !(h->masks[0] == 0x7C00 && h->masks[1] == 0x03E0 && h->masks[2] == 0x001F))
        bits[0] = 0; /* another layout: leave gdk-pixbuf's values */
}

static void convert(const bmp_header *h, const uint8_t *d, size_t n, GdkPixbuf *pb,
                    const uint8_t bg[3], cerebro_image *img)
{
    const guint8 *src = gdk_pixbuf_read_pixels(pb);
    int stride = gdk_pixbuf_get_rowstride(pb), nch = gdk_pixbuf_get_n_channels(pb);
    int has_alpha = gdk_pixbuf_get_has_alpha(pb) && nch == 4, alpha = uses_alpha(h);
    int rle = h->compression == BI_RLE4 || h->compression == BI_RLE8, bits[3] = {0, 0, 0};
    uint8_t fill[3] = {0, 0, 0};
    size_t entry, at = palette_at(h, &entry);

    if (rle && h->colors > 0 && at + 3 <= n) {
        fill[0] = d[at + 2];
        fill[1] = d[at + 1];
        fill[2] = d[at];
    }
    if (h->bits == 16)
        sixteen_bit_bits(h, bits);
    for (uint32_t y = 0; y < img->height; y++) {
        const guint8 *p = src + (size_t)y * (size_t)stride;
        uint8_t *out = img->pixels + (size_t)y * img->width * 3;
        for (uint32_t x = 0; x < img->width; x++, p += nch, out += 3) {
            uint8_t c[3] = {p[0], p[1], p[2]};
            unsigned a = has_alpha ? p[3] : 255;
            if (rle) {
                if (a == 0)
                    memcpy(c, fill, 3);
                a = 255;
            } else if (!alpha) {
                a = 255;
            }
            if (bits[0])
                for (int k = 0; k < 3; k++)
                    c[k] = rescale(c[k], bits[k]);
            for (int k = 0; k < 3; k++)
                out[k] = cb_composite(a, c[k], bg[k]);
        }
    }
}

static cerebro_status loader_failure(GError *err, const char *label, const char *what)
{
    cerebro_status st = cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt BMP: %s (%s)", label, what,
                                err && err->message ? err->message : "no detail");
    if (err)
        g_error_free(err);
    return st;
}

cerebro_status cb_bmp_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out)
{
    bmp_header head;
    bmp_job job = {label, &head, 0, 0};
    GdkPixbufLoader *loader;
    GdkPixbuf *pb;
    GError *err = NULL;
    cerebro_status st;

    CB_UNUSED(exif); /* BMP has no EXIF */
    *out = NULL;
    if ((st = read_header(data, size, label, &head)) != CEREBRO_OK)
        return st;
    if (head.width == 0 || head.height == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: BMP has zero size (%ux%u)", label, head.width,
                       head.height);
    if ((st = cb_image_check_limits(head.width, head.height, params->max_pixels, label)) !=
        CEREBRO_OK)
        return st;
    if ((st = check_data_size(&head, size, label)) != CEREBRO_OK)
        return st;

    loader = gdk_pixbuf_loader_new_with_type("bmp", &err);
    if (!loader) {
        st = cb_fail(CEREBRO_E_UNSUPPORTED,
                     "%s: gdk-pixbuf has no BMP loader (%s); install libgdk-pixbuf-2.0-0, whose "
                     "trigger runs gdk-pixbuf-query-loaders to write loaders.cache",
                     label, err ? err->message : "no detail");
        g_clear_error(&err);
        return st;
    }
    g_signal_connect(loader, "size-prepared", G_CALLBACK(on_size_prepared), &job);
    if (!gdk_pixbuf_loader_write(loader, data, size, &err)) {
        /* A failed write has closed the loader already. */
        st = loader_failure(err, label, "the loader refused the data");
        g_object_unref(loader);
        return st;
    }
    if (!gdk_pixbuf_loader_close(loader, &err)) {
        st = loader_failure(err, label, "the data ended early or is damaged");
        g_object_unref(loader);
        return st;
    }
    pb = gdk_pixbuf_loader_get_pixbuf(loader);
    if (!pb || job.size_differs || !job.size_seen ||
        (uint32_t)gdk_pixbuf_get_width(pb) != head.width ||
        (uint32_t)gdk_pixbuf_get_height(pb) != head.height || gdk_pixbuf_get_n_channels(pb) < 3 ||
        gdk_pixbuf_get_bits_per_sample(pb) != 8) {
        g_object_unref(loader);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt BMP: the loader gave no %ux%u image", label,
                       head.width, head.height);
    }
    st = cb_image_new(head.width, head.height, params->max_pixels, label, out);
    if (st == CEREBRO_OK)
        convert(&head, data, size, pb, params->background, *out);
    g_object_unref(loader);
    return st;
}
