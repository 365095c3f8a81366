/* GIF decoding with giflib: the first image of the file only (an animation
 * is indexed as its first frame), never the frames after it.
 *
 * Output matches PIL 9.4's Image.open(p).convert("RGB"), or, when the
 * first image has a transparent index, convert("RGBA") composited on
 * params->background. PIL's rules, found by decoding crafted files with it
 * (tests/image/formats/gen_gif.py keeps one case for each):
 *   - the picture is the logical screen, grown to hold the first image
 *     when that image reaches past the screen's right or bottom edge (a
 *     0x0 screen takes the image's size);
 *   - the colour table is the image's local table, else the global one,
 *     else none; indices the table does not reach (and every index when
 *     there is no table) show the grey level equal to the index;
 *   - the screen outside the image shows index 0 of that table, or is
 *     transparent when the image has a transparent index; the background
 *     colour index of the screen descriptor is never used;
 *   - the transparent index is the one of the last graphic control
 *     extension before the image whose transparency flag is set;
 *   - bytes between blocks that start neither an extension, an image nor
 *     the trailer are skipped;
 *   - the image data may end after its last pixel without the block
 *     terminator or the trailer; data that ends before the last pixel, or
 *     an LZW end code before it, is an error (truncated).
 * Where PIL 9.4 is inconsistent we follow the GIF specification:
 *   - a local table equal to the grey ramp (0,0,0), (1,1,1), ... is taken
 *     as given; PIL then shows the global table's colours (and fails on
 *     convert("RGBA") if the image is transparent);
 *   - a graphic control extension shorter than 4 bytes, or an extension
 *     without data sub-blocks, is skipped; PIL cannot open such files;
 *   - an LZW minimum code size above 8 is refused (giflib); PIL reads
 *     sizes up to 12 and keeps the low 8 bits of each index.
 *
 * Our own walk over the blocks before the first image descriptor finds the
 * transparent index, the frame rectangle and the colour tables, so the
 * size is checked against the limits before anything is allocated. giflib
 * then reads a virtual stream made of the header, the screen descriptor
 * and the global table followed by the file from the image descriptor on,
 * and decodes the image's rows with DGifGetLine; DGifSlurp, which would
 * decode every frame, is never called. */
#include <gif_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

#define GIF_GCE_LABEL 0xF9

/* What the walk over the blocks before the first image finds. */
typedef struct gif_layout {
    uint32_t screen_w, screen_h;
    size_t prefix_end;      /* end of the header, screen and global table */
    size_t global_table;    /* offset of the global table, 0 if none */
    unsigned global_count;  /* entries in it */
    size_t image_at;        /* offset of the ',' of the first image */
    uint32_t x, y, w, h;    /* the first image's rectangle on the screen */
    int interlaced;
    size_t local_table;     /* offset of its local table, 0 if none */
    unsigned local_count;
    int transparent;        /* transparent index, -1 if none */
} gif_layout;

/* giflib's input: the bytes [0, prefix_end) of the file, then the bytes
 * from image_at to the end, then one zero byte (a block terminator, so an
 * image whose data ends right after its last pixel decodes, as in PIL). */
typedef struct gif_source {
    const uint8_t *data;
    size_t size;
    size_t prefix_end;
    size_t image_at;
    size_t pos;       /* position in the file of the next byte */
    int gave_end;     /* the virtual terminator was read */
    int ran_out;      /* a read asked for more than the file holds */
} gif_source;

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static int read_source(GifFileType *gif, GifByteType *out, int len)
{
    gif_source *src = gif->UserData;
    int done = 0;

    while (done < len) {
        size_t avail;

        if (src->pos == src->prefix_end && src->prefix_end < src->image_at)
            src->pos = src->image_at;
        avail = src->pos < src->size ? src->size - src->pos : 0;
        if (avail == 0) {
            src->ran_out = 1;
            if (src->gave_end)
                break;
            src->gave_end = 1;
            out[done++] = 0;
            continue;
        }
        if (src->pos < src->prefix_end && avail > src->prefix_end - src->pos)
            avail = src->prefix_end - src->pos;
        if (avail > (size_t)(len - done))
            avail = (size_t)(len - done);
        memcpy(out + done, src->data + src->pos, avail);
        src->pos += avail;
        done += (int)avail;
    }
    return done;
}

static cerebro_status truncated(const char *label, size_t size, const char *what)
{
    return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated GIF: the data ends at byte %zu, inside %s",
                   label, size, what);
}

/* Skips an extension's data sub-blocks from *pos (just after the label);
 * a graphic control extension's first sub-block sets the transparent
 * index when its flag says so. */
static cerebro_status skip_extension(const uint8_t *d, size_t n, size_t *pos, int label_byte,
                                     gif_layout *g, const char *label)
{
    for (int first = 1;; first = 0) {
        size_t len;

        if (*pos >= n)
            return truncated(label, n, "an extension block");
        len = d[(*pos)++];
        if (len == 0)
            return CEREBRO_OK;
        if (n - *pos < len)
            return truncated(label, n, "an extension block");
        if (first && label_byte == GIF_GCE_LABEL && len >= 4 && (d[*pos] & 1))
            g->transparent = d[*pos + 3];
        *pos += len;
    }
}

/* The header, the screen descriptor, the global table and every block up
 * to and including the first image descriptor and its local table. */
static cerebro_status read_layout(const uint8_t *d, size_t n, const char *label, gif_layout *g)
{
    size_t pos;

    memset(g, 0, sizeof *g);
    g->transparent = -1;
    if (n < 6 || (memcmp(d, "GIF87a", 6) != 0 && memcmp(d, "GIF89a", 6) != 0))
        return cb_fail(CEREBRO_E_FORMAT, "%s: not a GIF file (no GIF87a/GIF89a signature)", label);
    if (n < 13)
        return truncated(label, n, "the logical screen descriptor");
    g->screen_w = le16(d + 6);
    g->screen_h = le16(d + 8);
    pos = 13;
    if (d[10] & 0x80) {
        g->global_count = 2u << (d[10] & 7);
        g->global_table = pos;
        if (n - pos < 3 * (size_t)g->global_count)
            return truncated(label, n, "the global colour table");
        pos += 3 * (size_t)g->global_count;
    }
    g->prefix_end = pos;

    for (;;) {
        cerebro_status st;
        uint8_t b;

        if (pos >= n)
            return truncated(label, n, "the blocks before the first image");
        b = d[pos++];
        if (b == ',')
            break;
        if (b == ';')
            return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt GIF: the trailer at byte %zu comes "
                           "before any image", label, pos - 1);
        if (b != '!')
            continue; /* PIL skips stray bytes between blocks */
        if (pos >= n)
            return truncated(label, n, "an extension block");
        b = d[pos++];
        if ((st = skip_extension(d, n, &pos, b, g, label)) != CEREBRO_OK)
            return st;
    }

    g->image_at = pos - 1;
    if (n - pos < 9)
        return truncated(label, n, "the first image descriptor");
    g->x = le16(d + pos);
    g->y = le16(d + pos + 2);
    g->w = le16(d + pos + 4);
    g->h = le16(d + pos + 6);
    g->interlaced = (d[pos + 8] & 0x40) != 0;
    if (d[pos + 8] & 0x80) {
        g->local_count = 2u << (d[pos + 8] & 7);
        g->local_table = pos + 9;
        if (n - g->local_table < 3 * (size_t)g->local_count)
            return truncated(label, n, "the local colour table");
    }
    pos += 9 + 3 * (size_t)g->local_count;
    if (pos >= n)
        return truncated(label, n, "the first image descriptor");
    if (g->w == 0 || g->h == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt GIF: the first image is empty (%ux%u)", label,
                       g->w, g->h);
    if (d[pos] > 8)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt GIF: LZW code size %u at byte %zu (at most 8)",
                       label, d[pos], pos);
    return CEREBRO_OK;
}

/* RGB of every index: the image's table (local, else global) over the
 * grey ramp that PIL starts every palette from. */
static void build_palette(const uint8_t *d, const gif_layout *g, uint8_t pal[256][3])
{
    size_t at = g->local_table ? g->local_table : g->global_table;
    unsigned count = g->local_table ? g->local_count : g->global_count;

    for (unsigned i = 0; i < 256; i++)
        pal[i][0] = pal[i][1] = pal[i][2] = (uint8_t)i;
    if (at)
        memcpy(pal, d + at, 3 * (size_t)count);
}

static cerebro_status giflib_failure(const gif_source *src, int error, const char *label)
{
    if (src->ran_out)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated GIF: the data ends at byte %zu, inside "
                       "the first image", label, src->size);
    return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt GIF: %s (first image, near byte %zu)", label,
                   GifErrorString(error) ? GifErrorString(error) : "decoder error", src->pos);
}

/* Rows of the image in the order the file stores them. */
static uint32_t stored_row(uint32_t i, uint32_t h, int interlaced)
{
    static const uint32_t start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};

    if (!interlaced)
        return i;
    for (int pass = 0; pass < 4; pass++) {
        uint32_t rows = h > start[pass] ? (h - start[pass] + step[pass] - 1) / step[pass] : 0;
        if (i < rows)
            return start[pass] + i * step[pass];
        i -= rows;
    }
    return h; /* not reached: i < h */
}

/* Decodes the first image's rows onto the screen. */
static cerebro_status decode_rows(gif_source *src, const gif_layout *g, const uint8_t pal[256][3],
                                  const uint8_t bg[3], cerebro_image *img, const char *label)
{
    int error = 0;
    GifFileType *gif = DGifOpen(src, read_source, &error);
    uint8_t *line = NULL;
    cerebro_status st = CEREBRO_OK;
    GifRecordType type;

    if (!gif)
        return giflib_failure(src, error, label);
    line = malloc(g->w);
    if (!line) {
        st = cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate a GIF row of %u pixels", label, g->w);
        goto done;
    }
    /* The virtual stream goes straight from the global table to the image
     * descriptor, which read_layout has already checked. */
    if (DGifGetRecordType(gif, &type) == GIF_ERROR || type != IMAGE_DESC_RECORD_TYPE ||
        DGifGetImageDesc(gif) == GIF_ERROR) {
        st = giflib_failure(src, gif->Error, label);
        goto done;
    }
    for (uint32_t i = 0; i < g->h; i++) {
        uint32_t row = stored_row(i, g->h, g->interlaced);
        uint8_t *out = img->pixels + ((size_t)(g->y + row) * img->width + g->x) * 3;

        if (DGifGetLine(gif, line, (int)g->w) == GIF_ERROR) {
            st = giflib_failure(src, gif->Error, label);
            goto done;
        }
        for (uint32_t x = 0; x < g->w; x++, out += 3)
            memcpy(out, (int)line[x] == g->transparent ? bg : pal[line[x]], 3);
    }
done:
    free(line);
    DGifCloseFile(gif, &error);
    return st;
}

/* Paints the screen outside the first image's rectangle (the rows decode
 * over the inside): one row is filled pixel by pixel, the rest copied. */
static void fill_outside(cerebro_image *img, const gif_layout *g, const uint8_t colour[3])
{
    size_t row = (size_t)img->width * 3;
    uint8_t *first = img->pixels;

    for (uint32_t x = 0; x < img->width; x++)
        memcpy(first + 3 * (size_t)x, colour, 3);
    for (uint32_t y = 1; y < img->height; y++) {
        uint8_t *out = img->pixels + y * row;
        if (y < g->y || y >= g->y + g->h) {
            memcpy(out, first, row);
        } else {
            memcpy(out, first, (size_t)g->x * 3);
            memcpy(out + (size_t)(g->x + g->w) * 3, first, row - (size_t)(g->x + g->w) * 3);
        }
    }
}

cerebro_status cb_gif_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out)
{
    gif_layout g;
    gif_source src;
    uint8_t pal[256][3];
    const uint8_t *fill;
    cerebro_image *img = NULL;
    uint32_t width, height;
    cerebro_status st;

    CB_UNUSED(exif); /* GIF has no EXIF */
    *out = NULL;
    if ((st = read_layout(data, size, label, &g)) != CEREBRO_OK)
        return st;
    width = g.x + g.w > g.screen_w ? g.x + g.w : g.screen_w;
    height = g.y + g.h > g.screen_h ? g.y + g.h : g.screen_h;
    if ((st = cb_image_new(width, height, params->max_pixels, label, &img)) != CEREBRO_OK)
        return st;

    build_palette(data, &g, pal);
    fill = g.transparent >= 0 ? params->background : pal[0];
    fill_outside(img, &g, fill);

    memset(&src, 0, sizeof src);
    src.data = data;
    src.size = size;
    src.prefix_end = g.prefix_end;
    src.image_at = g.image_at;
    st = decode_rows(&src, &g, (const uint8_t(*)[3])pal, params->background, img, label);
    if (st != CEREBRO_OK) {
        cerebro_image_free(img);
        return st;
    }
    *out = img;
    return CEREBRO_OK;
}
