/* GIF decoding: placeholder while the decoder is written (session 5). */
#include "core/core.h"
#include "image/decode.h"

cerebro_status cb_gif_decode(const uint8_t *data, size_t size, const char *label,
                              const cb_decode_params *params, cb_exif_block *exif,
                              cerebro_image **out)
{
    (void)data;
    (void)size;
    (void)params;
    (void)exif;
    *out = NULL;
    return cb_fail(CEREBRO_E_UNSUPPORTED, "%s: GIF decoding is not built yet", label);
}
