/* JPEG decoding with libturbojpeg: baseline, progressive, grayscale, CMYK
 * and YCCK, full size or scaled inside the IDCT (fast mode).
 *
 * Fidelity: the same libjpeg-turbo that PIL 9.4 links, with PIL's settings
 * (ISLOW DCT, fancy upsampling), so RGB output equals
 * Image.open(p).convert("RGB") byte for byte, and a 1/2, 1/4 or 1/8 scaled
 * decode equals PIL's draft() at that scale.
 *
 * Damaged data, decided like PIL without LOAD_TRUNCATED_IMAGES:
 *   - a file that ends before its end-of-image marker is an error
 *     (E_CORRUPT "truncated"), found by walking the marker structure before
 *     decoding and, as a backstop, by libjpeg's "Premature end of JPEG
 *     file" warning;
 *   - libjpeg's other warnings (extraneous bytes before a marker, bad
 *     Huffman or arithmetic code, premature end of a data segment, RST
 *     resync, inconsistent progression, unknown JFIF revision or Adobe
 *     transform) are accepted: PIL silences them too and shows the pixels
 *     libjpeg reconstructs, which are the ones we return;
 *   - progressive files with more than 500 scans are refused
 *     (TJFLAG_LIMITSCANS): a known way to make a tiny file decode for
 *     minutes. PIL has no such limit; no camera or encoder writes them.
 * Bytes after the end-of-image marker are ignored (cameras append data). */
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "core/core.h"
#include "image/decode.h"

enum {
    M_SOS = 0xDA,
    M_EOI = 0xD9,
    M_APP1 = 0xE1,
    M_TEM = 0x01
};

typedef struct jpeg_layout {
    int complete;         /* an end-of-image marker follows the scans */
    int has_frame;        /* a SOF segment came before the first scan */
    uint32_t width, height, components; /* from that SOF */
    cb_exif_block exif;   /* first "Exif\0" APP1 before the first scan */
} jpeg_layout;

static int is_standalone(uint8_t m)
{
    return m == M_TEM || (m >= 0xD0 && m <= 0xD8); /* TEM, RSTn, SOI */
}

/* SOF0..SOF15 less DHT (C4), JPG (C8) and DAC (CC). */
static int is_sof(uint8_t m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

/* Skips entropy-coded data from `pos` up to the first 0xFF that starts a
 * marker (not a stuffed 0xFF00, fill bytes or an RSTn). Returns n if none. */
static size_t skip_entropy_data(const uint8_t *d, size_t n, size_t pos)
{
    while (pos < n) {
        const uint8_t *ff = memchr(d + pos, 0xFF, n - pos);
        size_t next;

        if (!ff)
            return n;
        pos = (size_t)(ff - d);
        next = pos + 1;
        while (next < n && d[next] == 0xFF)
            next++;
        if (next >= n)
            return n;
        if (d[next] != 0x00 && !(d[next] >= 0xD0 && d[next] <= 0xD7))
            return next - 1;
        pos = next + 1;
    }
    return n;
}

/* Walks the marker segments after SOI the way libjpeg reads them (garbage
 * between segments skipped, declared lengths followed) to find the EXIF
 * block and whether the data reaches an end-of-image marker. */
static void jpeg_walk(const uint8_t *d, size_t n, jpeg_layout *out)
{
    size_t pos = 2;
    int in_headers = 1, exif_seen = 0;

    memset(out, 0, sizeof *out);
    while (pos < n) {
        uint8_t m;
        size_t len, payload;

        while (pos < n && d[pos] != 0xFF)
            pos++;
        while (pos < n && d[pos] == 0xFF)
            pos++;
        if (pos >= n)
            return;
        m = d[pos++];
        if (m == 0x00 || is_standalone(m))
            continue;
        if (m == M_EOI) {
            out->complete = 1;
            return;
        }
        if (n - pos < 2)
            return;
        len = ((size_t)d[pos] << 8) | d[pos + 1];
        payload = pos + 2;
        len = len < 2 ? 0 : len - 2;
        if (n - payload < len)
            return;
        if (is_sof(m) && in_headers && !out->has_frame && len >= 6) {
            /* libjpeg refuses a second SOF, so the first is the frame. */
            out->has_frame = 1;
            out->height = ((uint32_t)d[payload + 1] << 8) | d[payload + 2];
            out->width = ((uint32_t)d[payload + 3] << 8) | d[payload + 4];
            out->components = d[payload + 5];
        }
        if (m == M_APP1 && in_headers && !exif_seen && len >= 5 &&
            memcmp(d + payload, "Exif\0", 5) == 0) {
            /* PIL keeps the first such segment only, and reads no EXIF from
             * one whose "Exif\0" is not followed by a second NUL. */
            exif_seen = 1;
            if (len >= 6 && d[payload + 5] == 0) {
                out->exif.data = d + payload + 6;
                out->exif.size = len - 6;
            }
        }
        pos = payload + len;
        if (m == M_SOS) {
            in_headers = 0;
            pos = skip_entropy_data(d, n, pos);
        }
    }
}

/* The strongest of 1/8, 1/4, 1/2 that keeps the shortest side at least
 * min_short (the short side is the same before and after an EXIF
 * rotation); 1/1 when none does or min_short is 0. */
static tjscalingfactor choose_scale(int width, int height, uint32_t min_short)
{
    static const int denoms[] = {8, 4, 2};
    tjscalingfactor best = {1, 1};
    tjscalingfactor *factors;
    int count = 0;

    if (min_short == 0)
        return best;
    factors = tjGetScalingFactors(&count);
    for (size_t k = 0; k < sizeof denoms / sizeof denoms[0]; k++) {
        for (int i = 0; factors && i < count; i++) {
            tjscalingfactor f = factors[i];
            int w, h;

            if (f.num != 1 || f.denom != denoms[k])
                continue;
            w = TJSCALED(width, f);
            h = TJSCALED(height, f);
            if ((uint32_t)(w < h ? w : h) >= min_short)
                return f;
        }
    }
    return best;
}

/* PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and its convert("RGB")
 * computes r = nk - MULDIV255(c, nk) with nk = 255 - k. With the stored
 * (inverted) bytes s: c = 255 - s_c and nk = s_k. */
static uint8_t cmyk_channel(uint8_t stored_c, uint8_t stored_k)
{
    int c = 255 - stored_c, nk = stored_k;
    int t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v);
}

static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, size_t pixels)
{
    for (size_t i = 0; i < pixels; i++, cmyk += 4, rgb += 3) {
        rgb[0] = cmyk_channel(cmyk[0], cmyk[3]);
        rgb[1] = cmyk_channel(cmyk[1], cmyk[3]);
        rgb[2] = cmyk_channel(cmyk[2], cmyk[3]);
    }
}

/* libjpeg's warnings (jerror.h JWRN_*), after which it carried on to the
 * end of the image. turbojpeg keeps the first warning's text unless a fatal
 * error replaces it, and its tjGetErrorCode() says "warning" for a fatal
 * error that followed a warning (libjpeg-turbo 2.1), so the text decides. */
static int is_libjpeg_warning(const char *msg)
{
    static const char *const warnings[] = {
        "Corrupt JPEG data: ",
        "Premature end of JPEG file",
        "Unknown Adobe color transform code",
        "Inconsistent progression sequence",
        "Warning: unknown JFIF revision",
        "Invalid SOS parameters for sequential JPEG",
        "Application transferred too many scanlines",
    };
    for (size_t i = 0; i < sizeof warnings / sizeof warnings[0]; i++) {
        if (strncmp(msg, warnings[i], strlen(warnings[i])) == 0)
            return 1;
    }
    return 0;
}

/* Decodes into *img (already sized to the scaled dimensions). */
static cerebro_status decompress(tjhandle tj, const uint8_t *data, size_t size, const char *label,
                                 int cmyk, cerebro_image *img)
{
    const int flags = TJFLAG_ACCURATEDCT | TJFLAG_LIMITSCANS;
    size_t pixels = (size_t)img->width * img->height, bytes;
    uint8_t *buf = img->pixels;
    cerebro_status st = CEREBRO_OK;

    if (cmyk) {
        if (cb_mul_size(pixels, 4, &bytes) != 0 || !(buf = malloc(bytes)))
            return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate a %ux%u CMYK buffer", label,
                           img->width, img->height);
    }
    if (tjDecompress2(tj, data, (unsigned long)size, buf, (int)img->width, 0, (int)img->height,
                      cmyk ? TJPF_CMYK : TJPF_RGB, flags) != 0) {
        const char *msg = tjGetErrorStr2(tj);
        if (!is_libjpeg_warning(msg))
            st = cb_fail(strncmp(msg, "Unsupported", 11) ? CEREBRO_E_CORRUPT : CEREBRO_E_FORMAT,
                         "%s: cannot decode JPEG: %s", label, msg);
        else if (strncmp(msg, "Premature end", 13) == 0)
            st = cb_fail(CEREBRO_E_CORRUPT, "%s: truncated JPEG: %s", label, msg);
    }
    if (st == CEREBRO_OK && cmyk)
        cmyk_to_rgb(buf, img->pixels, pixels);
    if (cmyk)
        free(buf);
    return st;
}

cerebro_status cb_jpeg_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out)
{
    cerebro_image *img = NULL;
    jpeg_layout layout;
    tjscalingfactor scale;
    cerebro_status st;
    tjhandle tj;

    *out = NULL;
    /* The frame header comes from our own walk, not tjDecompressHeader3(),
     * which refuses sampling factors it has no TJSAMP_* name for (3x1,
     * 1x3, ...) although libjpeg, and so PIL, decode them. */
    jpeg_walk(data, size, &layout);
    if (!layout.has_frame) {
        if (!layout.complete)
            return cb_fail(CEREBRO_E_CORRUPT,
                           "%s: truncated JPEG: data ends at byte %zu before the frame header",
                           label, size);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: JPEG has no frame header (SOF) before its data",
                       label);
    }
    /* Limits apply to the image the file holds, whatever the scale: a
     * progressive decode buffers coefficients for the full size. */
    st = cb_image_check_limits(layout.width, layout.height, params->max_pixels, label);
    if (st != CEREBRO_OK)
        return st;
    if (layout.width == 0 || layout.height == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: JPEG frame header gives an empty image (%ux%u)",
                       label, layout.width, layout.height);
    if (layout.components != 1 && layout.components != 3 && layout.components != 4)
        return cb_fail(CEREBRO_E_FORMAT, "%s: JPEG with %u colour components is not supported",
                       label, layout.components);
    if (!layout.complete)
        return cb_fail(CEREBRO_E_CORRUPT,
                       "%s: truncated JPEG: data ends at byte %zu before the end-of-image marker",
                       label, size);

    scale = choose_scale((int)layout.width, (int)layout.height, params->min_short_side);
    st = cb_image_new((uint32_t)TJSCALED((int)layout.width, scale),
                      (uint32_t)TJSCALED((int)layout.height, scale), params->max_pixels, label,
                      &img);
    if (st != CEREBRO_OK)
        return st;
    tj = tjInitDecompress();
    if (!tj) {
        cerebro_image_free(img);
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot create a JPEG decoder: %s", label,
                       tjGetErrorStr2(NULL));
    }
    st = decompress(tj, data, size, label, layout.components == 4, img);
    tjDestroy(tj);
    if (st != CEREBRO_OK) {
        cerebro_image_free(img);
        return st;
    }
    cb_image_set_scaled(img, layout.width, layout.height, scale.num, scale.denom);
    *exif = layout.exif;
    *out = img;
    return CEREBRO_OK;
}
