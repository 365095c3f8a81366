/* PNG decoding with libpng: every colour type and bit depth, tRNS, Adam7.
 *
 * Output matches PIL 9.4's Image.open(p).convert("RGB") (or, for images
 * with transparency, convert("RGBA") composited on the background) except:
 *   - 16-bit samples keep their high byte. PIL does that for RGB, RGBA and
 *     LA, but opens 16-bit grayscale as mode "I", whose convert("RGB")
 *     clips every value above 255 to white; we take the high byte there
 *     too, which keeps the picture instead of a white sheet.
 *   - alpha, including tRNS colour keys and palette transparency, is
 *     composited on params->background instead of being dropped.
 *   - a bad CRC in any chunk up to the end of the image data is an error.
 *     PIL agrees except for IDAT, whose CRC it never checks; chunks after
 *     the image data are not read, so their CRCs do not matter (PIL's
 *     rule too). Truncation before the image data ends is an error.
 * Text, ICC and other metadata chunks are skipped without being parsed;
 * eXIf is located by our own chunk walk, wherever it sits (PIL also reads
 * one that follows the image data, and the last one wins). Orientation
 * from XMP or ImageMagick's "Raw profile type exif" text is not read. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

typedef struct png_job {
    const uint8_t *data;
    size_t size;
    size_t pos;
    int truncated;
    const char *label;
    const cb_decode_params *params;
    png_structp png;
    png_infop info;
    cerebro_image *image;
    uint8_t *rgba;  /* alpha images: a row, or the whole image if interlaced */
    char message[256];
} png_job;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The last eXIf chunk before IEND, or none. Bounds-checked walk over the
 * raw chunk list; CRCs are libpng's business. */
static cb_exif_block find_exif(const uint8_t *d, size_t n)
{
    cb_exif_block exif = {NULL, 0};
    size_t pos = 8;

    while (n - pos >= 12) {
        uint32_t len = be32(d + pos);
        const uint8_t *type = d + pos + 4;

        if (len > 0x7FFFFFFFu || n - pos - 12 < len)
            break;
        if (memcmp(type, "eXIf", 4) == 0) {
            exif.data = d + pos + 8;
            exif.size = len;
        } else if (memcmp(type, "IEND", 4) == 0) {
            break;
        }
        pos += 12 + (size_t)len;
    }
    return exif;
}

static void read_data(png_structp png, png_bytep out, size_t len)
{
    png_job *job = png_get_io_ptr(png);

    if (len > job->size - job->pos) {
        job->truncated = 1;
        png_error(png, "truncated");
    }
    memcpy(out, job->data + job->pos, len);
    job->pos += len;
}

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);

    snprintf(job->message, sizeof job->message, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

/* libpng's warnings (bad ancillary chunks, benign errors) would otherwise
 * go to stderr: a library must stay silent. */
static void on_warning(png_structp png, png_const_charp msg)
{
    CB_UNUSED(png);
    CB_UNUSED(msg);
}

static cerebro_status libpng_failure(const png_job *job)
{
    if (job->truncated)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: truncated PNG: data ends at byte %zu", job->label,
                       job->size);
    return cb_fail(CEREBRO_E_CORRUPT, "%s: corrupt PNG: %s", job->label, job->message);
}

static void set_transforms(png_job *job)
{
    /* Chunks that allocate or inflate and that we never use. */
    static const png_byte skipped[] = "iCCP\0iTXt\0tEXt\0zTXt\0eXIf\0sPLT\0pCAL\0sCAL";

    png_set_keep_unknown_chunks(job->png, PNG_HANDLE_CHUNK_NEVER, skipped,
                                (int)(sizeof skipped / 5));
    /* Our own limits judge the size (with E_LIMIT); libpng's defaults would
     * refuse large images as corrupt first. */
    png_set_user_limits(job->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    /* libpng would drop an ancillary chunk with a bad CRC and go on; PIL
     * refuses the file, and so do we. */
    png_set_crc_action(job->png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
}

/* Palette, low bit depths and tRNS become 8-bit RGB(A); returns the
 * number of output channels. */
static int set_output_format(png_job *job)
{
    png_set_expand(job->png);
    png_set_strip_16(job->png);
    png_set_gray_to_rgb(job->png);
    return png_get_valid(job->png, job->info, PNG_INFO_tRNS) ||
                   (png_get_color_type(job->png, job->info) & PNG_COLOR_MASK_ALPHA)
               ? 4
               : 3;
}

/* The libpng part: everything between setjmp and the last row. No local
 * of this function is used after a longjmp; state lives in *job. */
static cerebro_status png_run(png_job *job)
{
    png_uint_32 width, height;
    int channels, passes, interlaced;
    size_t rgba_rows;
    cerebro_status st;

    if (setjmp(png_jmpbuf(job->png)))
        return libpng_failure(job);

    set_transforms(job);
    png_read_info(job->png, job->info);
    width = png_get_image_width(job->png, job->info);
    height = png_get_image_height(job->png, job->info);
    st = cb_image_new(width, height, job->params->max_pixels, job->label, &job->image);
    if (st != CEREBRO_OK)
        return st;

    channels = set_output_format(job);
    passes = png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);
    if (png_get_rowbytes(job->png, job->info) != (size_t)width * (size_t)channels)
        return cb_fail(CEREBRO_E_INTERNAL, "%s: unexpected PNG row size", job->label);

    interlaced = passes > 1;
    if (channels == 4) {
        rgba_rows = interlaced ? height : 1;
        job->rgba = malloc((size_t)width * 4 * rgba_rows);
        if (!job->rgba)
            return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate PNG rows for %ux%u", job->label,
                           width, height);
    }
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < height; y++) {
            uint8_t *rgb = job->image->pixels + (size_t)y * width * 3;
            uint8_t *row = channels == 3 ? rgb
                                         : job->rgba + (interlaced ? (size_t)y * width * 4 : 0);
            png_read_row(job->png, row, NULL);
            if (channels == 4 && !interlaced)
                cb_composite_row(row, rgb, width, job->params->background);
        }
    }
    if (channels == 4 && interlaced) {
        for (png_uint_32 y = 0; y < height; y++)
            cb_composite_row(job->rgba + (size_t)y * width * 4,
                          job->image->pixels + (size_t)y * width * 3, width,
                          job->params->background);
    }
    return CEREBRO_OK;
}

cerebro_status cb_png_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out)
{
    png_job job;
    cerebro_status st;

    *out = NULL;
    memset(&job, 0, sizeof job);
    job.data = data;
    job.size = size;
    job.label = label;
    job.params = params;
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    if (job.png)
        job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_read_struct(job.png ? &job.png : NULL, NULL, NULL);
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot create a PNG decoder", label);
    }
    png_set_read_fn(job.png, &job, read_data);

    st = png_run(&job);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    free(job.rgba);
    if (st != CEREBRO_OK) {
        cerebro_image_free(job.image);
        return st;
    }
    *exif = find_exif(data, size);
    *out = job.image;
    return CEREBRO_OK;
}
