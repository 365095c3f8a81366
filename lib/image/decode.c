/* Format sniffing and the decode entry points: bytes in, an upright RGB
 * image out. The format comes from the magic bytes, never the file name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"
#include "image/image.h"

typedef enum cb_format {
    CB_FORMAT_UNKNOWN,
    CB_FORMAT_JPEG,
    CB_FORMAT_PNG
} cb_format;

static int has_prefix(const uint8_t *data, size_t size, size_t at, const char *magic, size_t n)
{
    return size >= at + n && memcmp(data + at, magic, n) == 0;
}

static cb_format sniff(const uint8_t *data, size_t size)
{
    if (has_prefix(data, size, 0, "\xFF\xD8\xFF", 3))
        return CB_FORMAT_JPEG;
    if (has_prefix(data, size, 0, "\x89PNG\r\n\x1A\n", 8))
        return CB_FORMAT_PNG;
    return CB_FORMAT_UNKNOWN;
}

/* Names formats we recognise but do not decode, so the message tells the
 * user what the file is rather than only what it is not. */
static const char *other_format_name(const uint8_t *data, size_t size)
{
    if (has_prefix(data, size, 0, "GIF8", 4))
        return "GIF";
    if (has_prefix(data, size, 0, "RIFF", 4) && has_prefix(data, size, 8, "WEBP", 4))
        return "WebP";
    if (has_prefix(data, size, 0, "II*\0", 4) || has_prefix(data, size, 0, "MM\0*", 4))
        return "TIFF";
    if (has_prefix(data, size, 4, "ftypavif", 8))
        return "AVIF";
    if (has_prefix(data, size, 4, "ftyphei", 7) || has_prefix(data, size, 4, "ftypmif1", 8))
        return "HEIF";
    if (has_prefix(data, size, 0, "BM", 2))
        return "BMP";
    return NULL;
}

static cerebro_status unknown_format(const uint8_t *data, size_t size, const char *label)
{
    const char *other = other_format_name(data, size);
    char head[3 * 8 + 1] = "";
    size_t n = size < 8 ? size : 8;

    if (other)
        return cb_fail(CEREBRO_E_FORMAT, "%s: %s images are not supported (only JPEG and PNG)",
                       label, other);
    for (size_t i = 0, len = 0; i < n; i++)
        len += (size_t)snprintf(head + len, sizeof head - len, "%s%02x", i ? " " : "", data[i]);
    return cb_fail(CEREBRO_E_FORMAT, "%s: not a JPEG or PNG image (starts with %s)", label, head);
}

cerebro_status cb_image_decode(const uint8_t *data, size_t size, const char *name,
                               const cb_decode_params *params, cerebro_image **out)
{
    const char *label = name && *name ? name : "image";
    cb_exif_block exif = {NULL, 0};
    cerebro_image *image = NULL;
    cerebro_status st;

    *out = NULL;
    if (!data && size)
        return cb_fail(CEREBRO_E_INVALID, "%s: data is NULL", label);
    if (size == 0)
        return cb_fail(CEREBRO_E_FORMAT, "%s: empty input (0 bytes), not an image", label);
    if (params->max_file_bytes && size > params->max_file_bytes)
        return cb_fail(CEREBRO_E_LIMIT, "%s: input is %zu bytes, over the limit of %llu bytes", label,
                       size, (unsigned long long)params->max_file_bytes);

    switch (sniff(data, size)) {
    case CB_FORMAT_JPEG:
        st = cb_jpeg_decode(data, size, label, params, &exif, &image);
        break;
    case CB_FORMAT_PNG:
        st = cb_png_decode(data, size, label, params, &exif, &image);
        break;
    default:
        return unknown_format(data, size, label);
    }
    if (st != CEREBRO_OK)
        return st;

    if (params->apply_exif && exif.data) {
        st = cb_image_apply_orientation(&image, cb_exif_orientation(exif.data, exif.size), label);
        if (st != CEREBRO_OK) {
            cerebro_image_free(image);
            return st;
        }
    }
    *out = image;
    return CEREBRO_OK;
}

cerebro_status cb_image_decode_file(const char *path, const cb_decode_params *params,
                                    cerebro_image **out)
{
    uint8_t *data = NULL;
    size_t size = 0;
    cerebro_status st;

    *out = NULL;
    st = cb_read_file(path, params->max_file_bytes ? params->max_file_bytes : UINT64_MAX, &data,
                      &size);
    if (st != CEREBRO_OK)
        return st;
    st = cb_image_decode(data, size, path, params, out);
    free(data);
    return st;
}

/* The argument checks both public loaders share. */
static cerebro_status load_begin(const char *function, cerebro_image **out, const char *input,
                                 int input_missing, const cerebro_image_options *opts,
                                 cb_decode_params *params)
{
    if (!out)
        return cb_fail(CEREBRO_E_INVALID, "%s: out is NULL", function);
    *out = NULL;
    if (input_missing)
        return cb_fail(CEREBRO_E_INVALID, "%s: %s is NULL", function, input);
    return cb_decode_params_from(opts, opts && (opts->flags & CEREBRO_IMAGE_DRAFT), params);
}

cerebro_status cerebro_image_load_file(cerebro_image **out, const char *path,
                                       const cerebro_image_options *opts)
{
    cb_decode_params params;
    cerebro_status st = load_begin("cerebro_image_load_file", out, "path", !path, opts, &params);

    return st != CEREBRO_OK ? st : cb_image_decode_file(path, &params, out);
}

cerebro_status cerebro_image_load_memory(cerebro_image **out, const void *data, size_t size,
                                         const char *name, const cerebro_image_options *opts)
{
    cb_decode_params params;
    cerebro_status st = load_begin("cerebro_image_load_memory", out, "data", !data && size, opts,
                                   &params);

    return st != CEREBRO_OK ? st : cb_image_decode(data, size, name, &params, out);
}
