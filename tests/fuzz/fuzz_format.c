/* libFuzzer target for the image decoders. Built once per format with
 * -DCB_FUZZ_DECODER=cb_webp_decode, ... (tests/fuzz/CMakeLists.txt):
 * arbitrary bytes straight into that decoder, with no signature check in
 * front; and once without (fuzz_image): through cb_image_decode(), the
 * sniffing and orientation included. Full size and fast mode, small
 * limits. Any status is fine; crashes, sanitizer reports, leaks and hangs
 * are not. A success must be an image within the limits whose every pixel
 * is readable, and an EXIF block, if any, must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"
#include "image/image.h"

#ifndef CB_FUZZ_DECODER
/* Every format: sniffing, the decoder it picks, then the orientation. */
static cerebro_status decode_sniffed(const uint8_t *data, size_t size, const char *label,
                                     const cb_decode_params *params, cb_exif_block *exif,
                                     cerebro_image **out)
{
    (void)exif;
    return cb_image_decode(data, size, label, params, out);
}
#define CB_FUZZ_DECODER decode_sniffed
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned pixel_sink;

static void decode_once(const uint8_t *data, size_t size, uint32_t min_short, int exif_on)
{
    cb_decode_params p;
    cb_exif_block exif = {NULL, 0};
    cerebro_image *img = NULL;
    cerebro_status st;

    memset(&p, 0, sizeof p);
    p.max_pixels = 4u << 20;
    p.max_file_bytes = 8u << 20;
    p.min_short_side = min_short;
    p.apply_exif = exif_on;
    p.background[0] = 10;
    p.background[1] = 20;
    p.background[2] = 30;
    st = CB_FUZZ_DECODER(data, size, "fuzz", &p, &exif, &img);
    if (st == CEREBRO_OK) {
        if (!img || img->width == 0 || img->height == 0 ||
            (uint64_t)img->width * img->height > p.max_pixels)
            abort();
        for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++)
            pixel_sink += img->pixels[i];
        if (exif.data) {
            if (exif.data < data || exif.size > size || exif.data + exif.size > data + size)
                abort();
            pixel_sink += (unsigned)cb_exif_orientation(exif.data, exif.size);
        }
        cerebro_image_free(img);
    } else if (img || cerebro_last_error()[0] == '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_once(data, size, 0, 1);
    decode_once(data, size, 16, size & 1);
    return 0;
}
