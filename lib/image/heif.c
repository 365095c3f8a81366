/* HEIF decoding with libheif: HEIC (HEVC, through libde265), AVIF (AV1,
 * through dav1d or aom) and whatever else the installed libheif decodes;
 * grids, alpha, 8 to 12 bits, thumbnails.
 *
 * Fidelity: pixels equal heif-convert's PNG as PIL reads it. libheif does
 * the YCbCr to RGB conversion in both; an image of more than 8 bits is
 * asked for as 8-bit interleaved RGB, which libheif makes by dropping the
 * low bits (v >> (bits - 8)), the same value as the high byte of the
 * 16-bit PNG heif-convert writes (v << (16 - bits)) and PIL keeps. Alpha is
 * composited on params->background. ICC and nclx profiles are not applied
 * (heif-convert, and PIL's convert("RGB") of its PNG, ignore them too).
 *
 * Orientation: HEIF stores it as transformation properties (clap crop,
 * irot rotation, imir mirror), which libheif applies while decoding. With
 * params->apply_exif they are applied; without it they are all ignored and
 * the coded picture comes out as stored (uncropped). *exif is always left
 * empty: the HEIF specification says the EXIF Orientation tag of a HEIF
 * file is informative only, irot/imir being the truth, so applying it on
 * top would turn the image twice.
 *
 * Limits: libheif refuses while parsing any item (thumbnails, grid tiles
 * and alpha planes included) with a side over min(its own default, our
 * ceiling, max_pixels); then the primary image's size, as displayed and
 * as coded, is checked against max_pixels before anything is decoded.
 * A grid's canvas is allocated at the size in the grid item's payload,
 * which the handle API does not show: every grid item's declared size is
 * checked first by a walk of our own over the item tables (see "Grid
 * output sizes" below); so is an overlay's (iovl), which libheif 1.15
 * likewise allocates at the size in its payload. A coded item (image,
 * grid tile, alpha plane, thumbnail) is decoded at the size its bitstream
 * declares (AV1 sequence header, HEVC SPS), which libheif 1.15 never
 * compares with its ispe: a second pass of the walk reads those headers
 * and refuses sizes over the limits or far over the ispe (see "Coded item
 * sizes").
 * Grid tiles are decoded on the calling thread: callers decode many
 * images in parallel already.
 *
 * Fast mode (min_short_side > 0): the smallest thumbnail whose short side
 * is at least min_short_side, if any, is decoded instead of the primary
 * image; full_width/full_height keep the primary image's size and the box
 * spans the whole thumbnail, whose scale may differ per axis. Only when
 * transformations are applied: each item carries its own irot/imir, so the
 * thumbnail is then upright like the primary image, while untransformed
 * their stored orientations may differ. A thumbnail whose aspect ratio
 * does not match the primary image's is not used.
 *
 * Thread safety: a context per call. heif_init() is not called: libheif
 * 1.15 registers its built-in codecs when it is loaded, and heif_init()
 * would load plugins from $LIBHEIF_PLUGIN_PATH, which a library should not
 * do behind its caller's back.
 *
 * Known library behaviour (Debian's libheif 1.15): AV1 goes to dav1d
 * (libheif's first choice, and decoder_id in the decoding options is not
 * honoured for it), which logs to stderr on damaged data because libheif
 * gives it no logger; and libheif's dav1d plugin leaks its 40-byte input
 * packet when dav1d refuses the data. Neither can be reached from here. */
#include <libheif/heif.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

/* libheif 1.15's own per-side limit (MAX_IMAGE_WIDTH/HEIGHT): lowered,
 * never raised. */
#define HEIF_DEFAULT_SIDE_LIMIT 32768u

static cerebro_status heif_status(const struct heif_error *err)
{
    switch (err->code) {
    case heif_error_Unsupported_filetype:
        return CEREBRO_E_FORMAT;
    case heif_error_Unsupported_feature:
        return CEREBRO_E_UNSUPPORTED;
    case heif_error_Memory_allocation_error:
        return err->subcode == heif_suberror_Security_limit_exceeded ? CEREBRO_E_LIMIT
                                                                     : CEREBRO_E_NOMEM;
    default:
        /* Invalid_input, Decoder_plugin_error, Usage_error (a reference to
         * an item the file lacks), ...: the file is damaged. */
        return CEREBRO_E_CORRUPT;
    }
}

static cerebro_status heif_failure(const struct heif_error *err, const char *label,
                                   const char *doing)
{
    return cb_fail(heif_status(err), "%s: %s HEIF: %s", label, doing,
                   err->message && *err->message ? err->message : "unknown libheif error");
}

/* The size the decoded image will have: as displayed (clap, irot applied)
 * or as coded (ispe) when transformations are ignored. */
static void output_size(const struct heif_image_handle *h, int transformed, uint32_t *w,
                        uint32_t *h_out)
{
    int width = heif_image_handle_get_width(h), height = heif_image_handle_get_height(h);

    if (!transformed) {
        int iw = heif_image_handle_get_ispe_width(h), ih = heif_image_handle_get_ispe_height(h);
        if (iw > 0 && ih > 0) {
            width = iw;
            height = ih;
        }
    }
    *w = width > 0 ? (uint32_t)width : 0;
    *h_out = height > 0 ? (uint32_t)height : 0;
}

/* The smallest thumbnail at least min_short on its short side with the
 * primary image's aspect ratio (within a pixel of rounding), or NULL. */
static struct heif_image_handle *pick_thumbnail(const struct heif_image_handle *primary,
                                                uint32_t full_w, uint32_t full_h,
                                                uint32_t min_short)
{
    heif_item_id ids[16];
    struct heif_image_handle *best = NULL;
    uint64_t best_pixels = 0;
    int n = heif_image_handle_get_list_of_thumbnail_IDs(primary, ids, 16);

    for (int i = 0; i < n; i++) {
        struct heif_image_handle *t = NULL;
        struct heif_error err = heif_image_handle_get_thumbnail(primary, ids[i], &t);
        uint32_t w, h;
        uint64_t cross_a, cross_b, slack;

        if (err.code != heif_error_Ok || !t)
            continue;
        output_size(t, 1, &w, &h);
        /* w / h == full_w / full_h up to half a pixel on the thumbnail's
         * longer side: |w * full_h - h * full_w| <= max(full_w, full_h). */
        cross_a = (uint64_t)w * full_h;
        cross_b = (uint64_t)h * full_w;
        slack = full_w > full_h ? full_w : full_h;
        if (w == 0 || h == 0 || w >= full_w || h >= full_h || (w < h ? w : h) < min_short ||
            (cross_a > cross_b ? cross_a - cross_b : cross_b - cross_a) > slack ||
            (best && (uint64_t)w * h >= best_pixels)) {
            heif_image_handle_release(t);
            continue;
        }
        heif_image_handle_release(best);
        best = t;
        best_pixels = (uint64_t)w * h;
    }
    return best;
}

/* Decodes `h` to 8-bit RGB into a new image. */
static cerebro_status decode_handle(const struct heif_image_handle *h, const char *label,
                                    const cb_decode_params *params, cerebro_image **out)
{
    int alpha = heif_image_handle_has_alpha_channel(h);
    struct heif_decoding_options *opts = heif_decoding_options_alloc();
    struct heif_image *pic = NULL;
    struct heif_error err;
    const uint8_t *plane;
    cerebro_image *img = NULL;
    cerebro_status st;
    int stride = 0, w, hh;

    if (!opts)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate HEIF decoding options", label);
    opts->ignore_transformations = params->apply_exif ? 0 : 1;
    err = heif_decode_image(h, &pic, heif_colorspace_RGB,
                            alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB,
                            opts);
    heif_decoding_options_free(opts);
    if (err.code != heif_error_Ok) {
        heif_image_release(pic);
        return heif_failure(&err, label, "cannot decode");
    }
    w = heif_image_get_width(pic, heif_channel_interleaved);
    hh = heif_image_get_height(pic, heif_channel_interleaved);
    plane = heif_image_get_plane_readonly(pic, heif_channel_interleaved, &stride);
    if (!plane || w <= 0 || hh <= 0 ||
        heif_image_get_bits_per_pixel(pic, heif_channel_interleaved) != (alpha ? 32 : 24) ||
        stride < w * (alpha ? 4 : 3)) {
        heif_image_release(pic);
        return cb_fail(CEREBRO_E_CORRUPT, "%s: libheif decoded no usable 8-bit RGB picture",
                       label);
    }
    st = cb_image_new((uint32_t)w, (uint32_t)hh, params->max_pixels, label, &img);
    if (st != CEREBRO_OK) {
        heif_image_release(pic);
        return st;
    }
    for (int y = 0; y < hh; y++) {
        const uint8_t *row = plane + (size_t)y * (size_t)stride;
        uint8_t *dst = img->pixels + (size_t)y * w * 3;
        if (alpha)
            cb_composite_row(row, dst, (size_t)w, params->background);
        else
            memcpy(dst, row, (size_t)w * 3);
    }
    heif_image_release(pic);
    *out = img;
    return CEREBRO_OK;
}

/* ---- Grid output sizes ------------------------------------------------
 *
 * libheif 1.15 allocates a grid's output picture at the size written in
 * the grid item's payload (ImageGrid: version, flags, rows - 1,
 * columns - 1, output width and height as 16-bit fields, or 32-bit ones
 * when flags & 1), not at its ispe, which is the only size the handle API
 * shows; and its own limit is per side (32768 x 32768 passes). So before
 * libheif decodes anything, a small ISO BMFF walk of our own finds every
 * 'grid' item (primary, thumbnails, alpha planes, unreferenced ones: all)
 * and checks the size each declares; the same for 'iovl' (overlay) items,
 * whose canvas libheif allocates from its payload the same way (fill
 * values, then width and height as 16- or 32-bit fields by flags & 1).
 *
 * Agreeing with libheif on which bytes are a grid's payload: libheif 1.15
 * reads top-level boxes until the first one it cannot read and keeps the
 * last 'meta' among them; in it the first iinf, iloc and idat; of the infe
 * boxes in that iinf the first one of each item ID; of the iloc entries the
 * first one of the ID. Rather than guess which of several candidates its
 * parser ends up with, the walk checks a superset: every infe of every
 * iinf of every top-level meta (up to the first box whose frame does not
 * fit, where libheif stops too), and for a grid ID every entry of every
 * iloc in the same meta. The payload is read from the file: at base +
 * offset (construction method 0), or at the idat's payload + base + offset
 * (method 1; libheif 1.15 bounds that read only by the idat's size header
 * included, so it may run past the idat, and so does ours), an extent
 * length of 0 read as "to the end of the file". An entry libheif cannot
 * read either (past the end of the file, method 2, no idat, fewer bytes
 * than a grid header) is left to libheif, which refuses it when it decodes
 * that item.
 *
 * Where the walk cannot make sense of the structure (a child box that does
 * not fit its parent, an iloc whose entries overrun it, field sizes other
 * than 0, 4 and 8, an iloc of version 1 with an index size, which libheif
 * versions read differently, several idat boxes in one meta), it does not
 * guess: the decision goes to libheif's parser, which refuses such a file
 * in almost every case; a file libheif reads although we cannot is refused
 * as corrupt, since its grids cannot be checked.
 *
 * Tiles: libheif requires exactly rows x columns 'dimg' tile references;
 * more tiles than output pixels is refused here as corrupt. Each tile is
 * decoded (one at a time, since decoding threads are off) at the size of
 * its coded bitstream, which the coded-item check below bounds. With the
 * canvas bounded, a grid's peak is its canvas plus one tile, the same
 * order as a plain image's. */

#define BMFF_4CC(a, b, c, d) \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define GRID_MAX_BOXES 8

typedef struct {
    uint32_t type;
    uint64_t start; /* payload, after the header */
    uint64_t end;   /* the box's end */
} bmff_box;

typedef struct {
    const uint8_t *data;
    uint64_t size;
    const char *label;
    const cb_decode_params *params;
    int unknown;    /* a structure the walk cannot read */
    unsigned steps;  /* OBUs and NAL units walked */
    uint64_t visits; /* iloc entries looked at */
    int codecs;     /* this pass checks coded items, not grids */
} grid_walk;

static uint64_t be_read(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* The box at pos within [pos, end): 1, or 0 at the end, or -1 when its
 * header or frame does not fit. Size 0 runs to `end`, size 1 is followed
 * by a 64-bit size; a 'uuid' box has 16 more header bytes. */
static int box_at(const uint8_t *d, uint64_t pos, uint64_t end, bmff_box *b)
{
    uint64_t size, header = 8;

    if (pos == end)
        return 0;
    if (end - pos < 8)
        return -1;
    size = be_read(d + pos, 4);
    b->type = (uint32_t)be_read(d + pos + 4, 4);
    if (size == 1) {
        if (end - pos < 16)
            return -1;
        size = be_read(d + pos + 8, 8);
        header = 16;
    } else if (size == 0) {
        size = end - pos;
    }
    if (b->type == BMFF_4CC('u', 'u', 'i', 'd'))
        header += 16;
    if (size < header || size > end - pos)
        return -1;
    b->start = pos + header;
    b->end = pos + size;
    return 1;
}

/* The refusal of one grid or overlay payload, or CEREBRO_OK. A grid:
 * version, flags, rows - 1, columns - 1, width, height; an overlay (iovl):
 * version, flags, 4 16-bit fill values, width, height (then the layers'
 * offsets); the sizes 16-bit, or 32-bit when flags & 1. */
static cerebro_status check_grid_payload(const grid_walk *gw, uint32_t id, int overlay,
                                         const uint8_t *g, int got)
{
    int wide = g[1] & 1;
    unsigned at = overlay ? 10 : 4, field = wide ? 4 : 2;
    uint32_t rows = (uint32_t)g[2] + 1, cols = (uint32_t)g[3] + 1, w, h;
    const char *kind = overlay ? "overlay" : "grid";
    uint64_t pixels;

    if (got < (int)(at + 2 * field))
        return CEREBRO_OK; /* libheif refuses it as incomplete */
    w = (uint32_t)be_read(g + at, field);
    h = (uint32_t)be_read(g + at + field, field);
    pixels = (uint64_t)w * h;
    if (w > CB_IMAGE_MAX_SIDE || h > CB_IMAGE_MAX_SIDE)
        return cb_fail(CEREBRO_E_LIMIT,
                       "%s: HEIF %s (item %u) declares %ux%u pixels, over the maximum side "
                       "of %u",
                       gw->label, kind, id, w, h, CB_IMAGE_MAX_SIDE);
    if (cb_image_check_limits(w, h, gw->params->max_pixels, gw->label) != CEREBRO_OK)
        return cb_fail(CEREBRO_E_LIMIT,
                       "%s: HEIF %s (item %u) declares %ux%u pixels, over the limit of %llu",
                       gw->label, kind, id, w, h, (unsigned long long)gw->params->max_pixels);
    if (pixels == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: HEIF %s (item %u) declares an empty %ux%u output",
                       gw->label, kind, id, w, h);
    if (!overlay && (uint64_t)rows * cols > pixels)
        return cb_fail(CEREBRO_E_CORRUPT,
                       "%s: HEIF grid (item %u) has %ux%u tiles for a %ux%u output", gw->label, id,
                       rows, cols, w, h);
    return CEREBRO_OK;
}

/* ---- Coded item sizes ---------------------------------------------------
 *
 * libheif 1.15 decodes a coded item ('av01', 'hvc1'; it does not know
 * 'hev1') at the size its bitstream declares and compares nothing with the
 * item's ispe; dav1d takes frames up to 65536 x 65536 and libde265 large
 * SPS sizes, so a file of a few hundred bytes could make the codec allocate
 * gigabytes. libheif hands the decoder the item's configuration first (av1C
 * configOBUs; hvcC's NAL units, each with a 4-byte length) and then the
 * item's data (its iloc extents concatenated: OBUs, or NAL units with
 * 4-byte lengths, which libheif 1.15's libde265 glue assumes whatever hvcC
 * says). The decoder takes whichever sequence header / SPS it meets, so
 * every one is checked: for each 'av01' and 'hvc1' item of every iinf (as
 * for grids above), every av1C / hvcC property associated with it by any
 * ipma entry, and every iloc entry of its ID.
 *
 * The size a header declares: AV1 max_frame_width/height_minus_1 + 1; HEVC
 * pic_width/height_in_luma_samples. Rules, per item:
 *  - E_LIMIT when that size has a side over CB_IMAGE_MAX_SIDE or more
 *    pixels than max_pixels;
 *  - E_CORRUPT when it exceeds the item's ispe (the first associated one,
 *    as libheif reads it) by more than codec padding: a side over ispe
 *    rounded up to a multiple of 64, plus 64 (x265 pads HEVC to its 8-pixel
 *    coding blocks; aom writes AV1's exact size);
 *  - AV1 without reduced_still_picture_header lets a frame header override
 *    the size with up to frame_width_bits bits, and dav1d 1.0 does not
 *    compare that with the maximum: 2^bits per side is what a frame can
 *    reach there, which must stay within twice the padded ispe (aom uses
 *    the fewest bits, under twice the size) or, without an ispe, within the
 *    limits. So an item's decoded picture stays a small multiple of its
 *    ispe, and its ispe within padding of a size max_pixels allowed.
 * A header this parser cannot read to its size fields (cut short, an
 * exp-Golomb code over 32 bits) is one the decoder refuses too (dav1d checks
 * that the header fits its OBU; libde265 reads past the end of a NAL unit
 * as zero bits, which makes no valid size codes), so it is left to the
 * decoder. A stream that stops making sense (an OBU or NAL unit larger than
 * what is left) stops the walk where the decoder stops too. Tables the walk
 * cannot read (an ipma running over its box, several ipco, an item with
 * more than CODEC_MAX_SEGMENTS extents, more than CODEC_MAX_STEPS units in
 * all, more than ILOC_MAX_VISITS iloc entries looked at over all items)
 * make the file unknown, refused as corrupt if libheif reads it. */

#define CODEC_MAX_SEGMENTS 64
#define CODEC_MAX_STEPS 100000u
#define CODEC_HEADER_BYTES 512u
/* Each checked item scans the iloc entries (a few times for a coded item):
 * quadratic in the item count, so bounded (a 1000-tile grid takes ~3M). */
#define ILOC_MAX_VISITS (1u << 25)

typedef struct {
    uint64_t off, len;
} codec_segment;

/* A byte stream made of pieces of the file, as libheif concatenates them. */
typedef struct {
    codec_segment seg[CODEC_MAX_SEGMENTS + 1];
    unsigned n;
    uint64_t total;
} codec_stream;

typedef struct {
    const uint8_t *p;
    size_t size, bit;
    int bad;
} bit_reader;

static uint32_t bits_get(bit_reader *br, unsigned n)
{
    uint32_t v = 0;

    for (unsigned i = 0; i < n; i++, br->bit++) {
        if (br->bit >= br->size * 8) {
            br->bad = 1;
            return 0;
        }
        v = (v << 1) | ((br->p[br->bit >> 3] >> (7 - (br->bit & 7))) & 1);
    }
    return v;
}

/* Unsigned exp-Golomb (HEVC ue(v), AV1 uvlc()): at most 32 leading zeros. */
static uint64_t bits_ue(bit_reader *br)
{
    unsigned zeros = 0;

    while (!br->bad && bits_get(br, 1) == 0) {
        if (++zeros > 32) {
            br->bad = 1;
            return 0;
        }
    }
    if (br->bad)
        return 0;
    return ((uint64_t)1 << zeros) - 1 + bits_get(br, zeros);
}

static void stream_add(codec_stream *s, uint64_t off, uint64_t len, int *overflow)
{
    if (len == 0)
        return;
    if (s->n == CODEC_MAX_SEGMENTS) {
        *overflow = 1;
        return;
    }
    s->seg[s->n].off = off;
    s->seg[s->n].len = len;
    s->n++;
    s->total += len;
}

/* Up to n bytes of the stream from `pos` into buf: how many there were. */
static size_t stream_copy(const uint8_t *d, const codec_stream *s, uint64_t pos, uint8_t *buf,
                          size_t n)
{
    size_t got = 0;

    for (unsigned i = 0; i < s->n && got < n; i++) {
        uint64_t take;
        if (pos >= s->seg[i].len) {
            pos -= s->seg[i].len;
            continue;
        }
        take = s->seg[i].len - pos;
        if (take > n - got)
            take = n - got;
        memcpy(buf + got, d + s->seg[i].off + pos, (size_t)take);
        got += (size_t)take;
        pos = 0;
    }
    return got;
}

typedef struct {
    uint32_t id;
    uint32_t ispe_w, ispe_h; /* 0 when the item has none */
    const char *codec;
} coded_item;

static uint64_t padded(uint32_t v)
{
    return ((uint64_t)v + 63) / 64 * 64 + 64;
}

/* The rules above for one declared size; reach_w/h the largest frame the
 * header allows (the same as w/h where no frame can override it). */
static cerebro_status check_codec_size(const grid_walk *gw, const coded_item *it, uint64_t w,
                                       uint64_t h, uint64_t reach_w, uint64_t reach_h)
{
    if (w > CB_IMAGE_MAX_SIDE || h > CB_IMAGE_MAX_SIDE ||
        (gw->params->max_pixels && w * h > gw->params->max_pixels))
        return cb_fail(CEREBRO_E_LIMIT,
                       "%s: HEIF item %u's %s bitstream declares %llux%llu pixels, over the "
                       "limit of %llu pixels and %u per side",
                       gw->label, it->id, it->codec, (unsigned long long)w,
                       (unsigned long long)h, (unsigned long long)gw->params->max_pixels,
                       CB_IMAGE_MAX_SIDE);
    if (it->ispe_w && it->ispe_h &&
        (w > padded(it->ispe_w) || h > padded(it->ispe_h) || reach_w > 2 * padded(it->ispe_w) ||
         reach_h > 2 * padded(it->ispe_h)))
        return cb_fail(CEREBRO_E_CORRUPT,
                       "%s: HEIF item %u's %s bitstream declares %llux%llu pixels (frames up to "
                       "%llux%llu), far more than its ispe of %ux%u",
                       gw->label, it->id, it->codec, (unsigned long long)w,
                       (unsigned long long)h, (unsigned long long)reach_w,
                       (unsigned long long)reach_h, it->ispe_w, it->ispe_h);
    if ((!it->ispe_w || !it->ispe_h) &&
        (reach_w > CB_IMAGE_MAX_SIDE || reach_h > CB_IMAGE_MAX_SIDE ||
         (gw->params->max_pixels && reach_w * reach_h > gw->params->max_pixels)))
        return cb_fail(CEREBRO_E_LIMIT,
                       "%s: HEIF item %u's %s bitstream allows frames of %llux%llu pixels, "
                       "over the limit of %llu pixels and %u per side",
                       gw->label, it->id, it->codec, (unsigned long long)reach_w,
                       (unsigned long long)reach_h, (unsigned long long)gw->params->max_pixels,
                       CB_IMAGE_MAX_SIDE);
    return CEREBRO_OK;
}

/* An AV1 sequence_header_obu payload (AV1 spec 5.5): checked if readable
 * up to its frame size fields. */
static cerebro_status check_av1_sequence_header(const grid_walk *gw, const coded_item *it,
                                                const uint8_t *p, size_t n)
{
    bit_reader br = {p, n, 0, 0};
    unsigned reduced, wbits, hbits;
    uint64_t w, h;

    bits_get(&br, 3); /* seq_profile */
    bits_get(&br, 1); /* still_picture */
    reduced = bits_get(&br, 1);
    if (reduced) {
        bits_get(&br, 5); /* seq_level_idx[0] */
    } else {
        unsigned timing = bits_get(&br, 1), model = 0, delay_len = 0, display, ops;
        if (timing) {
            bits_get(&br, 32); /* num_units_in_display_tick */
            bits_get(&br, 32); /* time_scale */
            if (bits_get(&br, 1)) /* equal_picture_interval */
                bits_ue(&br);     /* num_ticks_per_picture_minus_1 */
            model = bits_get(&br, 1);
            if (model) {
                delay_len = bits_get(&br, 5) + 1;
                bits_get(&br, 32); /* num_units_in_decoding_tick */
                bits_get(&br, 5);  /* buffer_removal_time_length_minus_1 */
                bits_get(&br, 5);  /* frame_presentation_time_length_minus_1 */
            }
        }
        display = bits_get(&br, 1);
        ops = bits_get(&br, 5) + 1;
        for (unsigned i = 0; i < ops && !br.bad; i++) {
            unsigned level;
            bits_get(&br, 12); /* operating_point_idc */
            level = bits_get(&br, 5);
            if (level > 7)
                bits_get(&br, 1); /* seq_tier */
            if (model && bits_get(&br, 1)) {
                bits_get(&br, delay_len); /* decoder_buffer_delay */
                bits_get(&br, delay_len); /* encoder_buffer_delay */
                bits_get(&br, 1);         /* low_delay_mode_flag */
            }
            if (display && bits_get(&br, 1))
                bits_get(&br, 4); /* initial_display_delay_minus_1 */
        }
    }
    wbits = bits_get(&br, 4) + 1;
    hbits = bits_get(&br, 4) + 1;
    w = (uint64_t)bits_get(&br, wbits) + 1;
    h = (uint64_t)bits_get(&br, hbits) + 1;
    if (br.bad)
        return CEREBRO_OK; /* cut short: dav1d refuses it too */
    return check_codec_size(gw, it, w, h, reduced ? w : (uint64_t)1 << wbits,
                            reduced ? h : (uint64_t)1 << hbits);
}

/* Every OBU of an AV1 stream in order, as dav1d parses it: each sequence
 * header checked. *steps counts the OBUs of the whole walk. */
static cerebro_status check_av1_stream(grid_walk *gw, const coded_item *it,
                                       const codec_stream *s, unsigned *steps)
{
    uint64_t pos = 0;
    uint8_t buf[CODEC_HEADER_BYTES];

    while (pos < s->total) {
        uint8_t head[10];
        size_t got = stream_copy(gw->data, s, pos, head, sizeof head);
        unsigned hlen = 1 + ((head[0] >> 2) & 1), type = (head[0] >> 3) & 15;
        uint64_t size = 0;

        if (++*steps > CODEC_MAX_STEPS) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        if (got < hlen)
            return CEREBRO_OK;
        if (head[0] & 2) { /* obu_has_size_field: leb128 */
            unsigned i;
            for (i = 0; i < 8; i++) {
                if (hlen + i >= got)
                    return CEREBRO_OK;
                size |= (uint64_t)(head[hlen + i] & 0x7f) << (7 * i);
                if (!(head[hlen + i] & 0x80))
                    break;
            }
            if (i == 8)
                return CEREBRO_OK;
            hlen += i + 1;
            if (size > s->total - pos - hlen)
                return CEREBRO_OK; /* dav1d stops here too */
        } else {
            size = s->total - pos - hlen;
        }
        if (type == 1) { /* OBU_SEQUENCE_HEADER */
            size_t n = stream_copy(gw->data, s, pos + hlen, buf,
                                   size < sizeof buf ? (size_t)size : sizeof buf);
            cerebro_status st = check_av1_sequence_header(gw, it, buf, n);
            if (st != CEREBRO_OK)
                return st;
        }
        pos += hlen + size;
    }
    return CEREBRO_OK;
}

/* An HEVC NAL unit (header included, emulation prevention still in): if
 * it is an SPS readable up to its picture size (H.265 7.3.2.2), checked. */
static cerebro_status check_hevc_nal(const grid_walk *gw, const coded_item *it, const uint8_t *p,
                                     size_t n)
{
    uint8_t rbsp[CODEC_HEADER_BYTES];
    size_t m = 0, zeros = 0;
    bit_reader br;
    unsigned sub;
    uint64_t chroma, w, h;

    if (n < 2 || ((p[0] >> 1) & 63) != 33)
        return CEREBRO_OK;
    for (size_t i = 2; i < n && m < sizeof rbsp; i++) {
        if (zeros >= 2 && p[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = p[i] == 0 ? zeros + 1 : 0;
        rbsp[m++] = p[i];
    }
    br = (bit_reader){rbsp, m, 0, 0};
    bits_get(&br, 4); /* sps_video_parameter_set_id */
    sub = bits_get(&br, 3);
    bits_get(&br, 1); /* sps_temporal_id_nesting_flag */
    /* profile_tier_level(1, sub): general profile (88 bits), level (8). */
    {
        unsigned profile[8], level[8];
        bits_get(&br, 32);
        bits_get(&br, 32);
        bits_get(&br, 24);
        bits_get(&br, 8);
        for (unsigned i = 0; i < sub; i++) {
            profile[i] = bits_get(&br, 1);
            level[i] = bits_get(&br, 1);
        }
        if (sub > 0)
            for (unsigned i = sub; i < 8; i++)
                bits_get(&br, 2);
        for (unsigned i = 0; i < sub; i++) {
            if (profile[i]) {
                bits_get(&br, 32);
                bits_get(&br, 32);
                bits_get(&br, 24);
            }
            if (level[i])
                bits_get(&br, 8);
        }
    }
    bits_ue(&br); /* sps_seq_parameter_set_id */
    chroma = bits_ue(&br);
    if (chroma == 3)
        bits_get(&br, 1); /* separate_colour_plane_flag */
    w = bits_ue(&br);
    h = bits_ue(&br);
    if (br.bad)
        return CEREBRO_OK; /* libde265 refuses it too */
    return check_codec_size(gw, it, w, h, w, h);
}

/* The NAL units of an HEVC stream, each after a 4-byte length. */
static cerebro_status check_hevc_stream(grid_walk *gw, const coded_item *it,
                                        const codec_stream *s, unsigned *steps)
{
    uint64_t pos = 0;
    uint8_t buf[CODEC_HEADER_BYTES];

    while (s->total - pos >= 4) {
        uint8_t len[4];
        uint64_t size;
        size_t n;
        cerebro_status st;

        if (++*steps > CODEC_MAX_STEPS) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        stream_copy(gw->data, s, pos, len, 4);
        size = be_read(len, 4);
        if (size > s->total - pos - 4)
            return CEREBRO_OK; /* libheif stops here */
        n = stream_copy(gw->data, s, pos + 4, buf, size < sizeof buf ? (size_t)size : sizeof buf);
        if ((st = check_hevc_nal(gw, it, buf, n)) != CEREBRO_OK)
            return st;
        pos += 4 + size;
    }
    return CEREBRO_OK;
}

/* The item tables of one meta box that the checks use. */
typedef struct {
    const bmff_box *iloc;
    unsigned n_iloc;
    const bmff_box *idat;
    const bmff_box *ipma;
    unsigned n_ipma;
    uint64_t *props; /* offsets of ipco's children, property index - 1 */
    uint32_t n_props;
} meta_tables;

/* Called for each iloc entry of an item with its data as a stream, or
 * `readable` 0 where libheif could not read the data either; `overflow`
 * where it has more extents than a stream holds. */
typedef cerebro_status (*entry_fn)(grid_walk *gw, void *ctx, const codec_stream *s,
                                   int readable, int overflow);

/* Every entry for `id` in the iloc box `iloc`, handed to fn. */
static cerebro_status walk_iloc(grid_walk *gw, const bmff_box *iloc, const bmff_box *idat,
                                uint32_t id, entry_fn fn, void *ctx)
{
    const uint8_t *d = gw->data;
    uint64_t pos = iloc->start, end = iloc->end, count, entry_min;
    unsigned version, off_size, len_size, base_size, idx_size = 0, id_size;

    if (end - pos < 6) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    version = d[pos];
    off_size = d[pos + 4] >> 4;
    len_size = d[pos + 4] & 15;
    base_size = d[pos + 5] >> 4;
    if (version >= 1)
        idx_size = d[pos + 5] & 15;
    pos += 6;
    id_size = version < 2 ? 2 : 4;
    if (version > 2 || (off_size != 0 && off_size != 4 && off_size != 8) ||
        (len_size != 0 && len_size != 4 && len_size != 8) ||
        (base_size != 0 && base_size != 4 && base_size != 8) ||
        (idx_size != 0 && (version == 1 || (idx_size != 4 && idx_size != 8))) ||
        end - pos < id_size) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    count = be_read(d + pos, id_size);
    pos += id_size;
    entry_min = id_size + (version >= 1 ? 2 : 0) + 2 + base_size + 2;
    if (count > (end - pos) / entry_min) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    for (uint64_t i = 0; i < count; i++) {
        uint64_t item, base, n_ext, ext_size = idx_size + off_size + len_size;
        unsigned method = 0;

        if (end - pos < entry_min || ++gw->visits > ILOC_MAX_VISITS) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        item = be_read(d + pos, id_size);
        pos += id_size;
        if (version >= 1) {
            method = d[pos + 1] & 15;
            pos += 2;
        }
        pos += 2; /* data_reference_index: libheif ignores it */
        base = be_read(d + pos, base_size);
        pos += base_size;
        n_ext = be_read(d + pos, 2);
        pos += 2;
        if (n_ext * ext_size > end - pos) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        if (item != id) {
            pos += n_ext * ext_size;
            continue;
        }
        {
            codec_stream s;
            int readable = method == 0 || (method == 1 && idat), overflow = 0;
            cerebro_status st;

            s.n = 0;
            s.total = 0;
            for (uint64_t e = 0; e < n_ext; e++, pos += ext_size) {
                uint64_t off = be_read(d + pos + idx_size, off_size);
                uint64_t len = be_read(d + pos + idx_size + off_size, len_size);
                uint64_t at;

                if (!readable)
                    continue;
                at = method == 1 ? idat->start : 0;
                if (base > gw->size || off > gw->size || (at += base + off) > gw->size) {
                    readable = 0;
                    continue;
                }
                if (len == 0)
                    len = gw->size - at;
                if (len > gw->size - at) {
                    readable = 0;
                    continue;
                }
                stream_add(&s, at, len, &overflow);
            }
            if ((st = fn(gw, ctx, &s, readable, overflow)) != CEREBRO_OK || gw->unknown)
                return st;
        }
    }
    return CEREBRO_OK;
}


typedef struct {
    uint32_t id;
    int overlay;
} grid_item;

/* A grid's or overlay's payload: the first 18 bytes of the extents
 * concatenated, as libheif reads them. */
static cerebro_status grid_entry(grid_walk *gw, void *ctx, const codec_stream *s, int readable,
                                 int overflow)
{
    const grid_item *g = ctx;
    uint8_t grid[18];
    size_t got;

    (void)overflow; /* only the first bytes matter */
    if (!readable)
        return CEREBRO_OK; /* libheif cannot read it either: its refusal */
    got = stream_copy(gw->data, s, 0, grid, sizeof grid);
    return check_grid_payload(gw, g->id, g->overlay, grid, (int)got);
}
/* Every property associated with `id` by any entry of any ipma box, in
 * order, handed to fn with its box (indices past ipco's children and 0,
 * "none", skipped as libheif skips or refuses them). */
typedef cerebro_status (*prop_fn)(grid_walk *gw, void *ctx, const bmff_box *prop);

static cerebro_status walk_ipma(grid_walk *gw, const meta_tables *mt, uint32_t id, prop_fn fn,
                                void *ctx)
{
    const uint8_t *d = gw->data;

    for (unsigned b = 0; b < mt->n_ipma; b++) {
        uint64_t pos = mt->ipma[b].start, end = mt->ipma[b].end, count;
        unsigned version, wide, id_size;

        if (end - pos < 8) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        version = d[pos];
        wide = d[pos + 3] & 1;
        id_size = version < 1 ? 2 : 4;
        count = be_read(d + pos + 4, 4);
        pos += 8;
        if (count > (end - pos) / (id_size + 1)) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        for (uint64_t i = 0; i < count; i++) {
            uint32_t item;
            unsigned n;

            if (end - pos < id_size + 1) {
                gw->unknown = 1;
                return CEREBRO_OK;
            }
            item = (uint32_t)be_read(d + pos, id_size);
            n = d[pos + id_size];
            pos += id_size + 1;
            if ((uint64_t)n * (wide ? 2 : 1) > end - pos) {
                gw->unknown = 1;
                return CEREBRO_OK;
            }
            for (unsigned k = 0; k < n; k++) {
                uint32_t index = wide ? (uint32_t)be_read(d + pos, 2) & 0x7fff : d[pos] & 0x7fu;
                bmff_box prop;
                cerebro_status st;

                pos += wide ? 2 : 1;
                if (item != id || index == 0 || index > mt->n_props ||
                    box_at(d, mt->props[index - 1], gw->size, &prop) <= 0)
                    continue;
                if ((st = fn(gw, ctx, &prop)) != CEREBRO_OK || gw->unknown)
                    return st;
            }
        }
    }
    return CEREBRO_OK;
}

static cerebro_status ispe_prop(grid_walk *gw, void *ctx, const bmff_box *prop)
{
    coded_item *it = ctx;

    if (prop->type == BMFF_4CC('i', 's', 'p', 'e') && !it->ispe_w && !it->ispe_h &&
        prop->end - prop->start >= 12) {
        it->ispe_w = (uint32_t)be_read(gw->data + prop->start + 4, 4);
        it->ispe_h = (uint32_t)be_read(gw->data + prop->start + 8, 4);
        if (!it->ispe_w || !it->ispe_h)
            it->ispe_w = it->ispe_h = 0;
    }
    return CEREBRO_OK;
}

typedef struct {
    coded_item it;
    const meta_tables *mt;
    uint32_t type;      /* av01 or hvc1 */
    codec_segment conf; /* the av1C configOBUs in front of the item's data */
    int have_conf;
    int entries; /* iloc entries seen */
} coded_walk;

/* One iloc entry of a coded item: its data, behind the av1C configOBUs
 * for AV1 as libheif passes them to dav1d. */
static cerebro_status coded_entry(grid_walk *gw, void *ctx, const codec_stream *data,
                                  int readable, int overflow)
{
    coded_walk *cw = ctx;
    codec_stream s;

    cw->entries++;
    if (overflow) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    s.n = 0;
    s.total = 0;
    if (cw->have_conf)
        stream_add(&s, cw->conf.off, cw->conf.len, &overflow);
    if (readable)
        for (unsigned i = 0; i < data->n; i++)
            stream_add(&s, data->seg[i].off, data->seg[i].len, &overflow);
    if (cw->type == BMFF_4CC('a', 'v', '0', '1'))
        return check_av1_stream(gw, &cw->it, &s, &gw->steps);
    return check_hevc_stream(gw, &cw->it, &s, &gw->steps);
}

/* A configuration property of a coded item: hvcC's NAL units checked; an
 * av1C's configOBUs walked in front of each of the item's iloc entries. */
static cerebro_status config_prop(grid_walk *gw, void *ctx, const bmff_box *prop)
{
    coded_walk *cw = ctx;
    const uint8_t *d = gw->data;

    if (cw->type == BMFF_4CC('a', 'v', '0', '1') && prop->type == BMFF_4CC('a', 'v', '1', 'C')) {
        cerebro_status st = CEREBRO_OK;
        if (prop->end - prop->start < 4)
            return CEREBRO_OK; /* libheif refuses it */
        cw->conf.off = prop->start + 4;
        cw->conf.len = prop->end - prop->start - 4;
        cw->have_conf = 1;
        cw->entries = 0;
        for (unsigned i = 0; i < cw->mt->n_iloc && st == CEREBRO_OK && !gw->unknown; i++)
            st = walk_iloc(gw, &cw->mt->iloc[i], cw->mt->idat, cw->it.id, coded_entry, cw);
        if (st == CEREBRO_OK && !gw->unknown && cw->entries == 0) {
            codec_stream none = {.n = 0, .total = 0};
            st = coded_entry(gw, cw, &none, 0, 0);
        }
        cw->have_conf = 0;
        return st;
    }
    if (cw->type == BMFF_4CC('h', 'v', 'c', '1') && prop->type == BMFF_4CC('h', 'v', 'c', 'C')) {
        /* 22 bytes of configuration, numOfArrays, then per array a type
         * byte, numNalus, and per NAL unit a 16-bit length and the unit. */
        uint64_t pos = prop->start + 22, end = prop->end;
        unsigned arrays;

        if (end - prop->start < 23)
            return CEREBRO_OK; /* libheif refuses it */
        arrays = d[pos++];
        for (unsigned a = 0; a < arrays; a++) {
            unsigned nalus;
            if (end - pos < 3)
                return CEREBRO_OK;
            nalus = (unsigned)be_read(d + pos + 1, 2);
            pos += 3;
            for (unsigned k = 0; k < nalus; k++) {
                uint64_t len;
                cerebro_status st;
                if (end - pos < 2 || (len = be_read(d + pos, 2)) > end - pos - 2)
                    return CEREBRO_OK; /* libheif refuses the box */
                if (++gw->steps > CODEC_MAX_STEPS) {
                    gw->unknown = 1;
                    return CEREBRO_OK;
                }
                st = check_hevc_nal(gw, &cw->it, d + pos + 2,
                                    len < CODEC_HEADER_BYTES ? (size_t)len : CODEC_HEADER_BYTES);
                if (st != CEREBRO_OK)
                    return st;
                pos += 2 + len;
            }
        }
    }
    return CEREBRO_OK;
}

/* A coded item ('av01' or 'hvc1'): every sequence header / SPS that its
 * configuration properties and its data hold, checked. */
static cerebro_status check_coded_item(grid_walk *gw, const meta_tables *mt, uint32_t id,
                                       uint32_t type)
{
    coded_walk cw;
    cerebro_status st;

    memset(&cw, 0, sizeof cw);
    cw.it.id = id;
    cw.it.codec = type == BMFF_4CC('a', 'v', '0', '1') ? "AV1" : "HEVC";
    cw.mt = mt;
    cw.type = type;
    if ((st = walk_ipma(gw, mt, id, ispe_prop, &cw.it)) != CEREBRO_OK || gw->unknown)
        return st;
    if ((st = walk_ipma(gw, mt, id, config_prop, &cw)) != CEREBRO_OK || gw->unknown)
        return st;
    /* The item's data alone: HEVC's (hvcC's units have their own frames),
     * and AV1's as dav1d would see it without an av1C. */
    for (unsigned i = 0; i < mt->n_iloc; i++)
        if ((st = walk_iloc(gw, &mt->iloc[i], mt->idat, id, coded_entry, &cw)) != CEREBRO_OK ||
            gw->unknown)
            return st;
    return CEREBRO_OK;
}

/* Every 'grid', 'iovl', 'av01' and 'hvc1' infe in the iinf box `iinf`:
 * checked against the meta's other tables. */
static cerebro_status check_iinf(grid_walk *gw, const bmff_box *iinf, const meta_tables *mt)
{
    const uint8_t *d = gw->data;
    uint64_t pos = iinf->start;
    bmff_box infe;
    int r;

    if (iinf->end - pos < 4 || iinf->end - pos - 4 < (d[pos] == 0 ? 2u : 4u)) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    /* The entry count is not trusted: every child is looked at, as libheif
     * 1.15 reads every child box of iinf. */
    pos += 4 + (d[pos] == 0 ? 2 : 4);
    while ((r = box_at(d, pos, iinf->end, &infe)) > 0) {
        uint64_t p = infe.start, n = infe.end - infe.start;
        unsigned version, id_size;
        uint32_t id, type;
        cerebro_status st = CEREBRO_OK;

        pos = infe.end;
        if (infe.type != BMFF_4CC('i', 'n', 'f', 'e'))
            continue;
        if (n < 4) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        version = d[p];
        if (version < 2)
            continue; /* no item type: never a grid */
        id_size = version == 2 ? 2 : 4;
        if (n < 4 + id_size + 2 + 4) {
            gw->unknown = 1;
            return CEREBRO_OK;
        }
        id = (uint32_t)be_read(d + p + 4, id_size);
        type = (uint32_t)be_read(d + p + 4 + id_size + 2, 4);
        if (!gw->codecs &&
            (type == BMFF_4CC('g', 'r', 'i', 'd') || type == BMFF_4CC('i', 'o', 'v', 'l'))) {
            grid_item g = {id, type == BMFF_4CC('i', 'o', 'v', 'l')};
            for (unsigned i = 0; i < mt->n_iloc && st == CEREBRO_OK && !gw->unknown; i++)
                st = walk_iloc(gw, &mt->iloc[i], mt->idat, id, grid_entry, &g);
        } else if (gw->codecs && (type == BMFF_4CC('a', 'v', '0', '1') ||
                                  type == BMFF_4CC('h', 'v', 'c', '1'))) {
            st = check_coded_item(gw, mt, id, type);
        }
        if (st != CEREBRO_OK || gw->unknown)
            return st;
    }
    if (r < 0)
        gw->unknown = 1;
    return CEREBRO_OK;
}

/* iprp's children: the ipco (its children's offsets into mt->props, which
 * the caller frees) and the ipma boxes. */
static void read_iprp(grid_walk *gw, const bmff_box *iprp, bmff_box *ipma, meta_tables *mt)
{
    bmff_box child, prop;
    uint64_t pos = iprp->start;
    unsigned n_ipco = 0;
    int r;

    while ((r = box_at(gw->data, pos, iprp->end, &child)) > 0) {
        pos = child.end;
        if (child.type == BMFF_4CC('i', 'p', 'm', 'a')) {
            if (mt->n_ipma == GRID_MAX_BOXES) {
                r = -1;
                break;
            }
            ipma[mt->n_ipma++] = child;
        } else if (child.type == BMFF_4CC('i', 'p', 'c', 'o')) {
            uint64_t p = child.start, max = (child.end - child.start) / 8;
            if (n_ipco++) {
                r = -1;
                break;
            }
            if (max == 0)
                continue;
            mt->props = malloc((size_t)max * sizeof *mt->props);
            if (!mt->props) {
                r = -1;
                break;
            }
            while ((r = box_at(gw->data, p, child.end, &prop)) > 0 && mt->n_props < max) {
                mt->props[mt->n_props++] = p;
                p = prop.end;
            }
            if (r < 0)
                break;
        }
    }
    if (r < 0)
        gw->unknown = 1;
}

static cerebro_status check_meta(grid_walk *gw, const bmff_box *meta)
{
    bmff_box child, iinf[GRID_MAX_BOXES], iloc[GRID_MAX_BOXES], idat, iprp, ipma[GRID_MAX_BOXES];
    unsigned n_iinf = 0, n_iloc = 0, n_idat = 0, n_iprp = 0;
    uint64_t pos = meta->start + 4;
    meta_tables mt;
    cerebro_status st = CEREBRO_OK;
    int r;

    if (meta->end - meta->start < 4) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    while ((r = box_at(gw->data, pos, meta->end, &child)) > 0) {
        pos = child.end;
        if (child.type == BMFF_4CC('i', 'i', 'n', 'f') && n_iinf < GRID_MAX_BOXES)
            iinf[n_iinf++] = child;
        else if (child.type == BMFF_4CC('i', 'l', 'o', 'c') && n_iloc < GRID_MAX_BOXES)
            iloc[n_iloc++] = child;
        else if (child.type == BMFF_4CC('i', 'd', 'a', 't') && n_idat++ == 0)
            idat = child;
        else if (child.type == BMFF_4CC('i', 'p', 'r', 'p') && n_iprp++ == 0)
            iprp = child;
        else if (child.type == BMFF_4CC('i', 'i', 'n', 'f') ||
                 child.type == BMFF_4CC('i', 'l', 'o', 'c'))
            r = -1; /* more than GRID_MAX_BOXES: not a real file */
        if (r < 0)
            break;
    }
    /* Several idat or iprp boxes: which one libheif takes is a guess. */
    if (r < 0 || n_idat > 1 || n_iprp > 1) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    memset(&mt, 0, sizeof mt);
    mt.iloc = iloc;
    mt.n_iloc = n_iloc;
    mt.idat = n_idat ? &idat : NULL;
    mt.ipma = ipma;
    if (n_iprp)
        read_iprp(gw, &iprp, ipma, &mt);
    for (unsigned i = 0; i < n_iinf && st == CEREBRO_OK && !gw->unknown; i++)
        st = check_iinf(gw, &iinf[i], &mt);
    free(mt.props);
    return st;
}

/* E_LIMIT or E_CORRUPT for a grid item declaring a refused output size;
 * otherwise CEREBRO_OK with *unknown set when the walk could not read the
 * item tables (the caller then refuses the file if libheif can). */
static cerebro_status check_grids(const uint8_t *data, size_t size, const char *label,
                                  const cb_decode_params *params, int codecs, int *unknown)
{
    grid_walk gw = {data, size, label, params, 0, 0, 0, codecs};
    uint64_t pos = 0;
    bmff_box box;

    /* Top level: up to the first box whose frame does not fit, where
     * libheif's reading stops too. */
    while (box_at(data, pos, size, &box) > 0) {
        pos = box.end;
        if (box.type == BMFF_4CC('m', 'e', 't', 'a')) {
            cerebro_status st = check_meta(&gw, &box);
            if (st != CEREBRO_OK)
                return st;
            if (gw.unknown)
                break;
        }
    }
    *unknown = gw.unknown;
    return CEREBRO_OK;
}

cerebro_status cb_heif_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out)
{
    struct heif_context *ctx;
    struct heif_image_handle *primary = NULL, *thumb = NULL;
    struct heif_error err;
    uint32_t w, h, cw, ch, side = HEIF_DEFAULT_SIDE_LIMIT;
    cerebro_image *img = NULL;
    cerebro_status st;
    int unknown = 0;

    (void)exif;
    *out = NULL;
    st = check_grids(data, size, label, params, 0, &unknown);
    if (st != CEREBRO_OK)
        return st;
    if (side > CB_IMAGE_MAX_SIDE)
        side = CB_IMAGE_MAX_SIDE;
    if (params->max_pixels && params->max_pixels < side)
        side = (uint32_t)params->max_pixels;
    ctx = heif_context_alloc();
    if (!ctx)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate a HEIF context", label);
    heif_context_set_maximum_image_size_limit(ctx, (int)side);
    heif_context_set_max_decoding_threads(ctx, 0);
    err = heif_context_read_from_memory_without_copy(ctx, data, size, NULL);
    if (err.code == heif_error_Ok)
        err = heif_context_get_primary_image_handle(ctx, &primary);
    if (err.code != heif_error_Ok) {
        st = heif_failure(&err, label, "cannot read");
        goto done;
    }
    if (unknown) {
        /* libheif reads item tables our walk cannot: its grids are
         * unchecked, and one of them could declare any size. */
        st = cb_fail(CEREBRO_E_CORRUPT,
                     "%s: HEIF item tables (meta, iinf, iloc) are malformed; grid sizes "
                     "cannot be checked",
                     label);
        goto done;
    }

    /* Both the size we will output and the coded size (what the codec
     * allocates before any crop or rotation) must be within limits. */
    output_size(primary, params->apply_exif, &w, &h);
    output_size(primary, 0, &cw, &ch);
    st = cb_image_check_limits(w, h, params->max_pixels, label);
    if (st == CEREBRO_OK)
        st = cb_image_check_limits(cw, ch, params->max_pixels, label);
    if (st != CEREBRO_OK)
        goto done;
    if (w == 0 || h == 0) {
        st = cb_fail(CEREBRO_E_CORRUPT, "%s: HEIF image has an empty size (%ux%u)", label, w, h);
        goto done;
    }
    /* Every coded item's bitstream size (see "Coded item sizes"): after
     * the primary image's own limits, so that a refusal names its size. */
    st = check_grids(data, size, label, params, 1, &unknown);
    if (st == CEREBRO_OK && unknown)
        st = cb_fail(CEREBRO_E_CORRUPT,
                     "%s: HEIF item properties or data (iprp, ipma, iloc) are malformed; coded "
                     "sizes cannot be checked",
                     label);
    if (st != CEREBRO_OK)
        goto done;

    if (params->min_short_side && params->apply_exif)
        thumb = pick_thumbnail(primary, w, h, params->min_short_side);
    st = decode_handle(thumb ? thumb : primary, label, params, &img);
    if (st != CEREBRO_OK)
        goto done;
    if (thumb) {
        /* The thumbnail shows the whole picture, scaled by its own
         * (possibly per-axis different) ratio. */
        img->full_width = w;
        img->full_height = h;
        img->box[0] = 0.0f;
        img->box[1] = 0.0f;
        img->box[2] = (float)img->width;
        img->box[3] = (float)img->height;
    }
    *out = img;

done:
    heif_image_handle_release(thumb);
    heif_image_handle_release(primary);
    heif_context_free(ctx);
    return st;
}
