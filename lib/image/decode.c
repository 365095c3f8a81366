/* Format sniffing and the decode entry points: bytes in, an upright RGB
 * image out. The format comes from the magic bytes, never the file name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"
#include "image/image.h"

typedef cerebro_status (*cb_decoder)(const uint8_t *data, size_t size, const char *label,
                                     const cb_decode_params *params, cb_exif_block *exif,
                                     cerebro_image **out);

static int has_prefix(const uint8_t *data, size_t size, size_t at, const char *magic, size_t n)
{
    return size >= at + n && memcmp(data + at, magic, n) == 0;
}

/* ISO base media files (HEIF, AVIF, Canon CR3) start with an 'ftyp' box:
 * size, "ftyp", major brand, minor version, compatible brands. */
static int bmff_brand(const uint8_t *data, size_t size, const char *brand)
{
    size_t box;

    if (!has_prefix(data, size, 4, "ftyp", 4) || size < 16)
        return 0;
    if (memcmp(data + 8, brand, 4) == 0)
        return 1;
    box = ((size_t)data[0] << 24) | ((size_t)data[1] << 16) | ((size_t)data[2] << 8) | data[3];
    if (box > size)
        box = size;
    for (size_t at = 16; at + 4 <= box; at += 4)
        if (memcmp(data + at, brand, 4) == 0)
            return 1;
    return 0;
}

static int is_tiff(const uint8_t *data, size_t size)
{
    return has_prefix(data, size, 0, "II*\0", 4) || has_prefix(data, size, 0, "MM\0*", 4) ||
           has_prefix(data, size, 0, "II+\0", 4) || has_prefix(data, size, 0, "MM\0+", 4);
}

/* RAW signatures that are not TIFF's: Fujifilm RAF, Olympus ORF, Panasonic
 * RW2, Canon CRW and CR3, Minolta MRW, Sigma X3F. LibRaw confirms. */
static int raw_signature(const uint8_t *data, size_t size)
{
    return has_prefix(data, size, 0, "FUJIFILMCCD-RAW", 15) || has_prefix(data, size, 0, "IIRO", 4) ||
           has_prefix(data, size, 0, "IIRS", 4) || has_prefix(data, size, 0, "MMOR", 4) ||
           has_prefix(data, size, 0, "IIU\0", 4) || has_prefix(data, size, 6, "HEAPCCDR", 8) ||
           has_prefix(data, size, 0, "\0MRM", 4) || has_prefix(data, size, 0, "FOVb", 4) ||
           bmff_brand(data, size, "crx ");
}

/* The format comes from the bytes alone. TIFF-based camera RAWs (DNG, CR2,
 * NEF, ARW, ...) carry a TIFF signature: LibRaw is asked first. */
static cb_decoder sniff(const uint8_t *data, size_t size, const char **name)
{
    static const char *const heif_brands[] = {"heic", "heix", "heim", "heis", "hevc", "hevx",
                                              "mif1", "msf1", "avif", "avis"};

    *name = NULL;
    if (has_prefix(data, size, 0, "\xFF\xD8\xFF", 3))
        return cb_jpeg_decode;
    if (has_prefix(data, size, 0, "\x89PNG\r\n\x1A\n", 8))
        return cb_png_decode;
    if (has_prefix(data, size, 0, "GIF87a", 6) || has_prefix(data, size, 0, "GIF89a", 6))
        return cb_gif_decode;
    if (has_prefix(data, size, 0, "RIFF", 4) && has_prefix(data, size, 8, "WEBP", 4))
        return cb_webp_decode;
    if (has_prefix(data, size, 0, "\xFF\x0A", 2) ||
        has_prefix(data, size, 0, "\0\0\0\x0CJXL \r\n\x87\n", 12))
        return cb_jxl_decode;
    if (has_prefix(data, size, 0, "BM", 2))
        return cb_bmp_decode;
    if ((is_tiff(data, size) || raw_signature(data, size)) && cb_raw_sniff(data, size))
        return cb_raw_decode;
    if (is_tiff(data, size))
        return cb_tiff_decode;
    for (size_t i = 0; i < sizeof heif_brands / sizeof heif_brands[0]; i++)
        if (bmff_brand(data, size, heif_brands[i]))
            return cb_heif_decode;
    if (raw_signature(data, size))
        *name = "camera RAW (of a kind LibRaw does not read)";
    else if (has_prefix(data, size, 4, "ftyp", 4))
        *name = "ISO media (not a HEIF image brand)";
    return NULL;
}

static cerebro_status unknown_format(const uint8_t *data, size_t size, const char *label,
                                     const char *other)
{
    char head[3 * 8 + 1] = "";
    size_t n = size < 8 ? size : 8;

    if (other)
        return cb_fail(CEREBRO_E_FORMAT, "%s: %s files are not supported", label, other);
    for (size_t i = 0, len = 0; i < n; i++)
        len += (size_t)snprintf(head + len, sizeof head - len, "%s%02x", i ? " " : "", data[i]);
    return cb_fail(CEREBRO_E_FORMAT,
                   "%s: not an image format libcerebro reads (JPEG, PNG, WebP, GIF, TIFF, BMP, "
                   "HEIC/AVIF, JPEG XL, camera RAW); starts with %s",
                   label, head);
}

cerebro_status cb_image_decode(const uint8_t *data, size_t size, const char *name,
                               const cb_decode_params *params, cerebro_image **out)
{
    const char *label = name && *name ? name : "image";
    cb_exif_block exif = {NULL, 0};
    cerebro_image *image = NULL;
    const char *other;
    cb_decoder decoder;
    cerebro_status st;

    *out = NULL;
    if (!data && size)
        return cb_fail(CEREBRO_E_INVALID, "%s: data is NULL", label);
    if (size == 0)
        return cb_fail(CEREBRO_E_FORMAT, "%s: empty input (0 bytes), not an image", label);
    if (params->max_file_bytes && size > params->max_file_bytes)
        return cb_fail(CEREBRO_E_LIMIT, "%s: input is %zu bytes, over the limit of %llu bytes", label,
                       size, (unsigned long long)params->max_file_bytes);

    decoder = sniff(data, size, &other);
    if (!decoder)
        return unknown_format(data, size, label, other);
    st = decoder(data, size, label, params, &exif, &image);
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
