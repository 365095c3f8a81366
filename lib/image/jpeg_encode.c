/* cerebro_image_encode_jpeg(): baseline JPEG (4:2:0, accurate DCT) through
 * libturbojpeg, for thumbnails. The output is our own malloc() block so
 * that cerebro_free() can release it. */
#include <stdlib.h>
#include <turbojpeg.h>

#include "core/core.h"
#include "image/image.h"

cerebro_status cerebro_image_encode_jpeg(const cerebro_image *image, int quality, void **data,
                                         size_t *size)
{
    unsigned long cap, len;
    unsigned char *buf;
    cerebro_status st = CEREBRO_OK;
    tjhandle tj;

    if (data)
        *data = NULL;
    if (size)
        *size = 0;
    if (!image || !data || !size)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_encode_jpeg: image, data and size must not be NULL");
    if (quality < 1 || quality > 100)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_encode_jpeg: quality %d outside 1..100", quality);
    if (image->width == 0 || image->height == 0 || image->width > CB_IMAGE_MAX_SIDE ||
        image->height > CB_IMAGE_MAX_SIDE)
        return cb_fail(CEREBRO_E_INVALID, "cerebro_image_encode_jpeg: bad image size %ux%u",
                       image->width, image->height);

    cap = tjBufSize((int)image->width, (int)image->height, TJSAMP_420);
    if (cap == (unsigned long)-1 || !(buf = malloc(cap)))
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_image_encode_jpeg: cannot allocate %lu bytes", cap);
    tj = tjInitCompress();
    if (!tj) {
        free(buf);
        return cb_fail(CEREBRO_E_NOMEM, "cerebro_image_encode_jpeg: cannot create a JPEG encoder: %s",
                       tjGetErrorStr2(NULL));
    }
    len = cap;
    /* NOREALLOC: tjBufSize() is the worst case, and turbojpeg must not swap
     * our malloc() block for one of its own. */
    if (tjCompress2(tj, image->pixels, (int)image->width, 0, (int)image->height, TJPF_RGB, &buf,
                    &len, TJSAMP_420, quality, TJFLAG_NOREALLOC | TJFLAG_ACCURATEDCT) != 0) {
        st = cb_fail(CEREBRO_E_INTERNAL, "cerebro_image_encode_jpeg: %s", tjGetErrorStr2(tj));
        free(buf);
    } else {
        void *shrunk = realloc(buf, len);
        *data = shrunk ? shrunk : buf;
        *size = len;
    }
    tjDestroy(tj);
    return st;
}
