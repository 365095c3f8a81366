/* JPEG XL decoding with libjxl: lossless and lossy, alpha, 8 to 16 bits
 * (and float), recompressed JPEGs (decoded to pixels), animations (the
 * first frame), a bare codestream or the ISO media container.
 *
 * Fidelity: pixels equal djxl's PNG as PIL reads it. An image of up to 8
 * bits is asked for as 8-bit samples; a deeper one as 16-bit samples of
 * which the high byte is kept, which is what djxl writes (a 16-bit PNG)
 * and PIL keeps of it. Alpha is composited on params->background. Colour:
 * the samples in the colour space the file was encoded from (sRGB for
 * nearly all), profile not applied, like djxl's PNG as PIL's
 * convert("RGB") reads it and like our other decoders; a lossy (XYB) file
 * whose original space is an ICC profile, which libjxl would give as
 * linear sRGB, is asked for in sRGB instead.
 *
 * Orientation lives in the codestream header. With params->apply_exif
 * libjxl applies it; without it the image comes out as stored
 * (JxlDecoderSetKeepOrientation). *exif is always left empty: an Exif box
 * restates the header's orientation and must not turn the image twice.
 *
 * Limits: the size is checked against max_pixels at JXL_DEC_BASIC_INFO,
 * before any output buffer exists. libjxl's allocations go through a
 * memory manager with a byte budget derived from max_pixels; an allocation
 * over it fails and libjxl reports an error (E_LIMIT). libjxl 0.7 passes
 * only the decoder object itself through it (measured: one allocation of
 * under 4 KB for a 1024x768 decode) and takes its image planes from
 * malloc; later versions route more through it, where the budget then
 * bounds them too. No parallel runner: libjxl works on the calling thread.
 *
 * Fast mode: libjxl 0.7 has no reduced-resolution decode worth having
 * (its DC image is 1:8 but costs nearly a full decode), so fast mode
 * decodes the full image. */
#include <jxl/decode.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/decode.h"

/* The budget: libjxl keeps a few float planes of the image (12 to 16
 * bytes a pixel each) and per-group state, plus tables and caches whatever
 * the size. Generous, so that it only ever stops what the limits forbid. */
#define JXL_BYTES_PER_PIXEL 64u
#define JXL_FIXED_BYTES (256u << 20)

typedef struct jxl_budget {
    size_t left;   /* bytes still allowed */
    int exceeded;  /* an allocation was refused */
} jxl_budget;

/* Each block carries its size in front, so free() can give it back. */
typedef union jxl_block_head {
    size_t size;
    max_align_t align;
} jxl_block_head;

static void *budget_alloc(void *opaque, size_t size)
{
    jxl_budget *b = opaque;
    jxl_block_head *head;

    if (size > b->left || size > SIZE_MAX - sizeof *head) {
        b->exceeded = 1;
        return NULL;
    }
    head = malloc(sizeof *head + size);
    if (!head)
        return NULL;
    head->size = size;
    b->left -= size;
    return head + 1;
}

static void budget_free(void *opaque, void *address)
{
    jxl_budget *b = opaque;
    jxl_block_head *head;

    if (!address)
        return;
    head = (jxl_block_head *)address - 1;
    b->left += head->size;
    free(head);
}

/* The budget for images of at most max_pixels (0: the side ceiling). */
static size_t budget_for(uint64_t max_pixels)
{
    uint64_t pixels = max_pixels ? max_pixels : (uint64_t)CB_IMAGE_MAX_SIDE * CB_IMAGE_MAX_SIDE;
    uint64_t bytes;

    if (pixels > (UINT64_MAX - JXL_FIXED_BYTES) / JXL_BYTES_PER_PIXEL)
        return SIZE_MAX;
    bytes = pixels * JXL_BYTES_PER_PIXEL + JXL_FIXED_BYTES;
    return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

typedef struct jxl_job {
    const char *label;
    const cb_decode_params *params;
    JxlDecoder *dec;
    jxl_budget budget;
    JxlBasicInfo info;
    JxlPixelFormat format;
    uint8_t *buf;      /* what libjxl writes: 8 or 16-bit RGB or RGBA */
    size_t buf_size;
    cerebro_image *image;
} jxl_job;

static cerebro_status jxl_error(const jxl_job *job, const char *what)
{
    if (job->budget.exceeded)
        return cb_fail(CEREBRO_E_LIMIT,
                       "%s: JPEG XL decoder needs more memory than the limit of %llu pixels allows "
                       "(while %s)",
                       job->label, (unsigned long long)job->params->max_pixels, what);
    return cb_fail(CEREBRO_E_CORRUPT,
                   "%s: corrupt or truncated JPEG XL data (libjxl failed while %s)", job->label,
                   what);
}

/* JXL_DEC_BASIC_INFO: limits, then the output format. */
static cerebro_status on_basic_info(jxl_job *job)
{
    JxlBasicInfo *info = &job->info;
    uint32_t w, h;
    cerebro_status st;

    if (JxlDecoderGetBasicInfo(job->dec, info) != JXL_DEC_SUCCESS)
        return jxl_error(job, "reading the header");
    /* The size of the output: libjxl has already swapped the sides when it
     * applies an orientation of 5..8 (and then says orientation 1). */
    w = info->xsize;
    h = info->ysize;
    st = cb_image_check_limits(w, h, job->params->max_pixels, job->label);
    if (st != CEREBRO_OK)
        return st;
    if (w == 0 || h == 0)
        return cb_fail(CEREBRO_E_CORRUPT, "%s: JPEG XL header gives an empty image (%ux%u)",
                       job->label, w, h);
    job->format.num_channels = info->alpha_bits ? 4 : 3;
    job->format.data_type = info->bits_per_sample > 8 ? JXL_TYPE_UINT16 : JXL_TYPE_UINT8;
    job->format.endianness = JXL_NATIVE_ENDIAN;
    job->format.align = 0;
    return CEREBRO_OK;
}

/* JXL_DEC_COLOR_ENCODING. Only XYB-coded (lossy) images let us choose:
 * libjxl gives them in the original colour space when the file names it
 * as an enumerated encoding (what djxl writes too), and in linear sRGB
 * when the original is an ICC profile, which 8 bits would band: then sRGB
 * is asked for. Other images come as coded. */
static void on_color_encoding(jxl_job *job)
{
    JxlColorEncoding srgb;

    if (JxlDecoderGetColorAsEncodedProfile(job->dec, NULL, JXL_COLOR_PROFILE_TARGET_ORIGINAL,
                                           NULL) == JXL_DEC_SUCCESS)
        return;
    memset(&srgb, 0, sizeof srgb);
    srgb.color_space = job->info.num_color_channels == 1 ? JXL_COLOR_SPACE_GRAY
                                                         : JXL_COLOR_SPACE_RGB;
    srgb.white_point = JXL_WHITE_POINT_D65;
    srgb.primaries = JXL_PRIMARIES_SRGB;
    srgb.transfer_function = JXL_TRANSFER_FUNCTION_SRGB;
    srgb.rendering_intent = JXL_RENDERING_INTENT_PERCEPTUAL;
    /* Refused for a non-XYB image: its samples are then given as coded. */
    (void)JxlDecoderSetPreferredColorProfile(job->dec, &srgb);
}

/* JXL_DEC_NEED_IMAGE_OUT_BUFFER: the image and libjxl's output buffer. */
static cerebro_status on_need_buffer(jxl_job *job)
{
    size_t size = 0;
    uint32_t w = job->info.xsize, h = job->info.ysize;
    cerebro_status st;

    if (JxlDecoderImageOutBufferSize(job->dec, &job->format, &size) != JXL_DEC_SUCCESS)
        return jxl_error(job, "sizing the output");
    st = cb_image_new(w, h, job->params->max_pixels, job->label, &job->image);
    if (st != CEREBRO_OK)
        return st;
    if (size != (size_t)w * h * job->format.num_channels *
                    (job->format.data_type == JXL_TYPE_UINT16 ? 2 : 1))
        return cb_fail(CEREBRO_E_CORRUPT, "%s: libjxl wants %zu output bytes for a %ux%u image",
                       job->label, size, w, h);
    job->buf = malloc(size);
    if (!job->buf)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot allocate %zu bytes for a %ux%u JPEG XL image",
                       job->label, size, w, h);
    job->buf_size = size;
    if (JxlDecoderSetImageOutBuffer(job->dec, &job->format, job->buf, size) != JXL_DEC_SUCCESS)
        return jxl_error(job, "setting the output");
    return CEREBRO_OK;
}

/* JXL_DEC_FULL_IMAGE: libjxl's samples to 8-bit RGB. */
static void convert_output(jxl_job *job)
{
    cerebro_image *img = job->image;
    size_t pixels = (size_t)img->width * img->height, channels = job->format.num_channels;
    uint8_t *rgba = NULL, *dst = img->pixels;

    if (job->format.data_type == JXL_TYPE_UINT16) {
        /* In place: sample i's high byte moves to byte i, never ahead. */
        const uint16_t *src = (const uint16_t *)(const void *)job->buf;
        for (size_t i = 0; i < pixels * channels; i++)
            job->buf[i] = (uint8_t)(src[i] >> 8);
    }
    if (channels == 3) {
        memcpy(dst, job->buf, pixels * 3);
        return;
    }
    rgba = job->buf;
    for (uint32_t y = 0; y < img->height; y++)
        cb_composite_row(rgba + (size_t)y * img->width * 4, dst + (size_t)y * img->width * 3,
                      img->width, job->params->background);
}

static cerebro_status run_decoder(jxl_job *job, size_t size)
{
    for (;;) {
        JxlDecoderStatus s = JxlDecoderProcessInput(job->dec);
        cerebro_status st = CEREBRO_OK;

        switch (s) {
        case JXL_DEC_BASIC_INFO:
            st = on_basic_info(job);
            break;
        case JXL_DEC_COLOR_ENCODING:
            on_color_encoding(job);
            break;
        case JXL_DEC_NEED_IMAGE_OUT_BUFFER:
            st = on_need_buffer(job);
            break;
        case JXL_DEC_FULL_IMAGE:
            /* The first frame; later ones of an animation are not read. */
            if (!job->buf)
                return cb_fail(CEREBRO_E_CORRUPT, "%s: JPEG XL frame without pixels", job->label);
            convert_output(job);
            return CEREBRO_OK;
        case JXL_DEC_NEED_MORE_INPUT:
            return cb_fail(CEREBRO_E_CORRUPT,
                           "%s: truncated JPEG XL: data ends at byte %zu before the first frame "
                           "is complete",
                           job->label, size);
        case JXL_DEC_SUCCESS:
            return cb_fail(CEREBRO_E_CORRUPT, "%s: JPEG XL file holds no image frame",
                           job->label);
        case JXL_DEC_ERROR:
            return jxl_error(job, job->image ? "decoding the image" : "reading the header");
        default:
            return cb_fail(CEREBRO_E_CORRUPT, "%s: unexpected libjxl event %d", job->label,
                           (int)s);
        }
        if (st != CEREBRO_OK)
            return st;
    }
}

cerebro_status cb_jxl_decode(const uint8_t *data, size_t size, const char *label,
                             const cb_decode_params *params, cb_exif_block *exif,
                             cerebro_image **out)
{
    JxlMemoryManager mm;
    jxl_job job;
    cerebro_status st;

    (void)exif;
    *out = NULL;
    memset(&job, 0, sizeof job);
    job.label = label;
    job.params = params;
    job.budget.left = budget_for(params->max_pixels);
    mm.opaque = &job.budget;
    mm.alloc = budget_alloc;
    mm.free = budget_free;
    job.dec = JxlDecoderCreate(&mm);
    if (!job.dec)
        return cb_fail(CEREBRO_E_NOMEM, "%s: cannot create a JPEG XL decoder", label);
    if (JxlDecoderSubscribeEvents(job.dec, JXL_DEC_BASIC_INFO | JXL_DEC_COLOR_ENCODING |
                                               JXL_DEC_FULL_IMAGE) != JXL_DEC_SUCCESS ||
        JxlDecoderSetKeepOrientation(job.dec, params->apply_exif ? JXL_FALSE : JXL_TRUE) !=
            JXL_DEC_SUCCESS ||
        JxlDecoderSetInput(job.dec, data, size) != JXL_DEC_SUCCESS) {
        st = cb_fail(CEREBRO_E_NOMEM, "%s: cannot set up the JPEG XL decoder", label);
    } else {
        /* Input left open: libjxl then answers NEED_MORE_INPUT for a
         * truncated file instead of printing "missing input" to stderr (a
         * debug trace Debian's build keeps) and failing. */
        st = run_decoder(&job, size);
    }
    JxlDecoderDestroy(job.dec);
    free(job.buf);
    if (st != CEREBRO_OK) {
        cerebro_image_free(job.image);
        return st;
    }
    *out = job.image;
    return CEREBRO_OK;
}
