/* libFuzzer target for the image decoders: arbitrary bytes through
 * cb_image_decode() with small limits, at full size and in fast mode
 * (scaled JPEG decoding), with and without EXIF orientation. Any status is
 * fine; crashes, sanitizer reports, leaks and hangs are not. A successful
 * decode must produce an image within the limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned pixel_sink;

static void decode_once(const uint8_t *data, size_t size, uint32_t min_short, int exif)
{
    cb_decode_params p;
    cerebro_image *img = NULL;
    cerebro_status st;

    memset(&p, 0, sizeof p);
    p.max_pixels = 4u << 20;
    p.max_file_bytes = 8u << 20;
    p.min_short_side = min_short;
    p.apply_exif = exif;
    p.background[0] = 10;
    p.background[1] = 20;
    p.background[2] = 30;
    st = cb_image_decode(data, size, "fuzz", &p, &img);
    if (st == CEREBRO_OK) {
        if (!img || img->width == 0 || img->height == 0 ||
            (uint64_t)img->width * img->height > p.max_pixels)
            abort();
        /* Read every byte: ASan then catches a buffer shorter than the
         * image claims (and MSan, where used, unwritten pixels). */
        for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++)
            pixel_sink += img->pixels[i];
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
