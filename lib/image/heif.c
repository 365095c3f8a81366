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
 * likewise allocates at the size in its payload. Not bounded by max_pixels: a coded image or grid
 * tile whose bitstream (AV1 sequence header, HEVC SPS) declares a larger
 * picture than its ispe, which libheif 1.15 decodes at the bitstream's
 * size before comparing anything; only the codec's own limits apply.
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
 * its coded bitstream, which libheif 1.15 does not compare with the tile's
 * ispe; the same holds for a plain coded image. That allocation is bounded
 * by the codec (dav1d: 65536 x 65536 frame sizes, as libheif sets no
 * frame_size_limit; libde265 its own SPS limits), not by max_pixels, so one
 * tile or image can still take a few GB while the grid canvas cannot
 * (checking it needs a parser for each codec's headers). With the canvas
 * bounded, a grid's peak is its canvas plus one tile, the same order as a
 * plain image's. */

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
    int unknown; /* a structure the walk cannot read */
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

/* Every entry for `id` in the iloc box `iloc`: its payload checked. */
static cerebro_status check_grid_in_iloc(grid_walk *gw, const bmff_box *iloc,
                                         const bmff_box *idat, uint32_t id, int overlay)
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
        unsigned method = 0, got = 0;
        int readable;
        uint8_t grid[18];
        cerebro_status st;

        if (end - pos < entry_min) {
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
        /* The first 18 bytes of the extents concatenated, as libheif
         * reads them; unreadable if libheif could not read them either. */
        readable = method == 0 || (method == 1 && idat);
        for (uint64_t e = 0; e < n_ext; e++, pos += ext_size) {
            uint64_t off = be_read(d + pos + idx_size, off_size);
            uint64_t len = be_read(d + pos + idx_size + off_size, len_size);
            uint64_t at, take;

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
            take = len < sizeof grid - got ? len : sizeof grid - got;
            memcpy(grid + got, d + at, (size_t)take);
            got += (unsigned)take;
        }
        if (!readable)
            continue; /* libheif cannot read it either: its refusal */
        if ((st = check_grid_payload(gw, id, overlay, grid, (int)got)) != CEREBRO_OK)
            return st;
    }
    return CEREBRO_OK;
}

/* Every 'grid' and 'iovl' infe in the iinf box `iinf` of a meta whose iloc and idat
 * boxes are given: checked in each iloc. */
static cerebro_status check_iinf(grid_walk *gw, const bmff_box *iinf, const bmff_box *ilocs,
                                 unsigned n_iloc, const bmff_box *idat)
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
        if (type != BMFF_4CC('g', 'r', 'i', 'd') && type != BMFF_4CC('i', 'o', 'v', 'l'))
            continue;
        for (unsigned i = 0; i < n_iloc; i++) {
            cerebro_status st = check_grid_in_iloc(gw, &ilocs[i], idat, id,
                                                   type == BMFF_4CC('i', 'o', 'v', 'l'));
            if (st != CEREBRO_OK || gw->unknown)
                return st;
        }
    }
    if (r < 0)
        gw->unknown = 1;
    return CEREBRO_OK;
}

static cerebro_status check_meta(grid_walk *gw, const bmff_box *meta)
{
    bmff_box child, iinf[GRID_MAX_BOXES], iloc[GRID_MAX_BOXES], idat;
    unsigned n_iinf = 0, n_iloc = 0, n_idat = 0;
    uint64_t pos = meta->start + 4;
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
        else if (child.type == BMFF_4CC('i', 'i', 'n', 'f') ||
                 child.type == BMFF_4CC('i', 'l', 'o', 'c'))
            r = -1; /* more than GRID_MAX_BOXES: not a real file */
        if (r < 0)
            break;
    }
    if (r < 0 || n_idat > 1) {
        gw->unknown = 1;
        return CEREBRO_OK;
    }
    for (unsigned i = 0; i < n_iinf; i++) {
        cerebro_status st = check_iinf(gw, &iinf[i], iloc, n_iloc, n_idat ? &idat : NULL);
        if (st != CEREBRO_OK || gw->unknown)
            return st;
    }
    return CEREBRO_OK;
}

/* E_LIMIT or E_CORRUPT for a grid item declaring a refused output size;
 * otherwise CEREBRO_OK with *unknown set when the walk could not read the
 * item tables (the caller then refuses the file if libheif can). */
static cerebro_status check_grids(const uint8_t *data, size_t size, const char *label,
                                  const cb_decode_params *params, int *unknown)
{
    grid_walk gw = {data, size, label, params, 0};
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
    st = check_grids(data, size, label, params, &unknown);
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
