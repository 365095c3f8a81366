/*
 * libcerebro -- natural-language search over image and video collections.
 *
 * One header is the whole public API. Everything is C99 with fixed-width
 * types, callable from any FFI (ctypes, koffi) without variadic calls or
 * structs passed by value.
 *
 * Usage (error handling shortened):
 *
 *     #include <cerebro/cerebro.h>
 *
 *     cerebro_model *model = NULL;
 *     if (cerebro_model_open(&model, "models/default.pt", NULL) != CEREBRO_OK) {
 *         fprintf(stderr, "%s\n", cerebro_last_error());
 *         return 1;
 *     }
 *     cerebro_index *index = NULL;
 *     cerebro_index_open(&index, "photos.cerebro", model, NULL);
 *     const char *folders[] = { "photos/" };
 *     cerebro_index_add(index, folders, 1, NULL, NULL);
 *
 *     cerebro_results *hits = NULL;
 *     cerebro_index_search_text(index, "a snow leopard on rocks", NULL, &hits);
 *     for (size_t i = 0; i < cerebro_results_count(hits); i++) {
 *         cerebro_hit hit;
 *         cerebro_results_get(hits, i, &hit);
 *         printf("%.3f %s\n", hit.score, hit.path);
 *     }
 *     cerebro_results_free(hits);
 *     cerebro_index_free(index);
 *     cerebro_model_free(model);
 *
 * Conventions
 *   - Every fallible call returns a cerebro_status: CEREBRO_OK (0) or a
 *     negative error. Values are never renumbered. cerebro_last_error()
 *     gives the human detail ("photo.jpg: truncated JPEG data").
 *   - Constructors take the out-parameter first and set it to NULL on
 *     failure. Every *_free(NULL) is a no-op.
 *   - Options structs start with `uint32_t version`; initialise them with
 *     cerebro_*_options_init() (or the *_OPTIONS_INIT macro) and then set
 *     fields. Passing NULL means "all defaults". Fields are only appended.
 *   - Output buffers belong to the caller and are sized by query functions
 *     (e.g. cerebro_model_dim()). What the library allocates has a typed
 *     free function.
 *   - Paths are UTF-8 (or whatever bytes the OS uses), NUL-terminated.
 *
 * Threads
 *   - cerebro_last_error() is thread-local: read it on the thread that got
 *     the error, before the next libcerebro call on that thread.
 *   - cerebro_model is immutable once opened: any number of threads may
 *     encode with one model at the same time.
 *   - cerebro_tokenizer is immutable once opened and may be shared.
 *   - cerebro_index allows concurrent searches from many threads; writes
 *     (add/remove) are serialised inside the index and never block readers
 *     from seeing a consistent, committed state.
 *   - cerebro_image and cerebro_results handles are plain values: share
 *     them read-only, free each once.
 *   - Callbacks (progress, on_error) run on the thread that made the call,
 *     never on a library worker thread, so they may call back into
 *     libcerebro and read cerebro_last_error().
 *   - Videos are decoded with the system's FFmpeg libraries. The first
 *     video opened installs an FFmpeg log callback (av_log_set_callback) so
 *     that FFmpeg writes nothing to stderr; its error text goes into
 *     cerebro_last_error() instead. A program that uses FFmpeg itself and
 *     wants its own callback should set it after that.
 */
#ifndef CEREBRO_CEREBRO_H
#define CEREBRO_CEREBRO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CEREBRO_STATIC)
#define CEREBRO_API
#elif defined(_WIN32)
#if defined(CEREBRO_BUILDING)
#define CEREBRO_API __declspec(dllexport)
#else
#define CEREBRO_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#define CEREBRO_API __attribute__((visibility("default")))
#else
#define CEREBRO_API
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                   */
/* ------------------------------------------------------------------------ */

#define CEREBRO_VERSION_MAJOR 0
#define CEREBRO_VERSION_MINOR 1
#define CEREBRO_VERSION_PATCH 0
/** MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 100 for 0.1.0. */
#define CEREBRO_VERSION_NUMBER \
    (CEREBRO_VERSION_MAJOR * 10000 + CEREBRO_VERSION_MINOR * 100 + CEREBRO_VERSION_PATCH)
#define CEREBRO_VERSION_STRING "0.1.0"

/** Version of the library loaded at run time (compare with
 *  CEREBRO_VERSION_NUMBER to detect a header/library mismatch). */
CEREBRO_API unsigned cerebro_version_number(void);
/** Version string of the loaded library, e.g. "0.1.0". Static storage. */
CEREBRO_API const char *cerebro_version_string(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                     */
/* ------------------------------------------------------------------------ */

/** Status codes. Values are fixed forever; new codes are only appended. */
typedef enum cerebro_status {
    CEREBRO_OK = 0,
    CEREBRO_E_INVALID = -1,     /**< invalid argument (NULL handle, bad option) */
    CEREBRO_E_NOMEM = -2,       /**< allocation failed */
    CEREBRO_E_IO = -3,          /**< file could not be opened, read or written */
    CEREBRO_E_FORMAT = -4,      /**< not a recognised / supported file format */
    CEREBRO_E_CORRUPT = -5,     /**< recognised format but damaged or truncated data */
    CEREBRO_E_LIMIT = -6,       /**< a configured limit was exceeded (size, pixels, k...) */
    CEREBRO_E_UNSUPPORTED = -7, /**< feature not implemented or not available in this build */
    CEREBRO_E_MISMATCH = -8,    /**< model/store/dimension mismatch */
    CEREBRO_E_NOT_FOUND = -9,   /**< no such file, id or entry */
    CEREBRO_E_CANCELLED = -10,  /**< a progress callback asked to stop */
    CEREBRO_E_MODEL = -11,      /**< the model runtime (libtorch) failed */
    CEREBRO_E_STORE = -12,      /**< the store (SQLite / FAISS) failed */
    CEREBRO_E_INTERNAL = -13    /**< a bug in libcerebro: please report it */
} cerebro_status;

/** Short constant name of a status, e.g. "CEREBRO_E_LIMIT: limit exceeded".
 *  Static storage; unknown values give "unknown status". */
CEREBRO_API const char *cerebro_status_string(cerebro_status status);

/** Detail of the last error on the calling thread (file name, byte offset,
 *  which limit). Never NULL: "" when there was none. Valid until the next
 *  libcerebro call on this thread. Successful calls do not clear it. */
CEREBRO_API const char *cerebro_last_error(void);

/** Frees memory the library allocated for the caller (e.g. the output of
 *  cerebro_image_encode_jpeg()). NULL is a no-op. */
CEREBRO_API void cerebro_free(void *ptr);

/* ------------------------------------------------------------------------ */
/* Images: decode and preprocess                                              */
/* ------------------------------------------------------------------------ */

/** Preprocessing fidelity. */
typedef enum cerebro_preprocess_mode {
    /** Full decode, then the reference transform of the resize mode exactly
     *  (CLIP: torchvision Resize(S, BICUBIC) + CenterCrop(S) + ToTensor +
     *  Normalize on PIL; squash: PIL resize((S, S), BICUBIC) + ToTensor +
     *  Normalize): every value within 1 uint8 level of the reference. */
    CEREBRO_PREPROCESS_EXACT = 0,
    /** A reduced decode whose shortest side stays >= S (CEREBRO_IMAGE_DRAFT:
     *  JPEG IDCT scaling, WebP scaling, HEIF thumbnails, RAW previews), then
     *  resampled the same way. Several times faster on large photos;
     *  embeddings stay at cosine >= 0.995. */
    CEREBRO_PREPROCESS_FAST = 1
} cerebro_preprocess_mode;

/** Resize modes (how the image reaches S x S). A model bundle records its
 *  own (cerebro_model_image_options()); other values are E_INVALID. */
typedef enum cerebro_resize_mode {
    /** Bicubic shortest-side resize to S, then centre crop (CLIP; the
     *  bundle's image.resize "shortest_bicubic", crop "center"). */
    CEREBRO_RESIZE_SHORTEST_CROP = 0,
    /** The whole image resized straight to S x S, aspect ratio not kept and
     *  nothing cropped: PIL's Image.resize((S, S), BICUBIC), as SigLIP's
     *  processors (Hugging Face SiglipImageProcessor, open_clip's
     *  resize_mode "squash") do. Bundle: "squash_bicubic", crop "none". */
    CEREBRO_RESIZE_SQUASH = 1
} cerebro_resize_mode;

/** Flags for cerebro_image_options.flags. */
/** Do not apply the file's orientation: EXIF (JPEG, PNG, WebP, TIFF), HEIF's
 *  irot/imir, JPEG XL's and a camera RAW's own. */
#define CEREBRO_IMAGE_IGNORE_EXIF 0x1u
/** cerebro_image_load_file/memory only: a reduced decode whose shorter side
 *  stays >= opts->size: a JPEG at 1/2, 1/4 or 1/8 scale inside the IDCT (the
 *  pixels PIL's Image.draft() gives), a WebP through libwebp's scaler, a HEIF
 *  thumbnail, a camera RAW's embedded preview or half-size demosaic; other
 *  formats decode at full size. Several times faster for thumbnails and
 *  previews of camera photos. Limits still judge the full size. The
 *  preprocess functions ignore it (their mode decides). */
#define CEREBRO_IMAGE_DRAFT 0x2u

#define CEREBRO_IMAGE_OPTIONS_VERSION 1
/** Limits and preprocessing parameters. Defaults: CLIP's (224 px, CLIP
 *  mean/std, exact mode, white background, 100 MP, 256 MiB). A model's own
 *  values come from cerebro_model_image_options(). */
typedef struct cerebro_image_options {
    uint32_t version;        /**< CEREBRO_IMAGE_OPTIONS_VERSION */
    uint32_t size;           /**< model input side S in pixels (1..4096) */
    float mean[3];           /**< per-channel mean, RGB, on the [0,1] scale */
    float std[3];            /**< per-channel std, RGB, all > 0 */
    uint32_t mode;           /**< cerebro_preprocess_mode */
    uint32_t resize;         /**< cerebro_resize_mode */
    uint32_t flags;          /**< CEREBRO_IMAGE_* flags */
    uint8_t background[4];   /**< RGB colour under transparent pixels; [3] unused */
    uint64_t max_pixels;     /**< refuse images with more pixels (checked before allocation) */
    uint64_t max_file_bytes; /**< refuse larger files / buffers */
} cerebro_image_options;

#define CEREBRO_IMAGE_OPTIONS_INIT                                                   \
    {                                                                                \
        CEREBRO_IMAGE_OPTIONS_VERSION, 224, {0.48145466f, 0.4578275f, 0.40821073f},  \
            {0.26862954f, 0.26130258f, 0.27577711f}, CEREBRO_PREPROCESS_EXACT,        \
            CEREBRO_RESIZE_SHORTEST_CROP, 0, {255, 255, 255, 0}, 100000000u,          \
            268435456u                                                               \
    }

/** Fills *opts with the defaults above. */
CEREBRO_API void cerebro_image_options_init(cerebro_image_options *opts);

/** A decoded 8-bit RGB image (EXIF orientation applied, alpha composited). */
typedef struct cerebro_image cerebro_image;

/** Decodes an image file: JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/AVIF, JPEG XL
 *  or camera RAW (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, ...), the format
 *  sniffed from the bytes, never the name. An animation (GIF, WebP) or a
 *  multi-page TIFF gives its first frame or page.
 *  opts: limits, EXIF and background (NULL: defaults); mode is ignored: full
 *  size, unless flags has CEREBRO_IMAGE_DRAFT. *out receives a new image to
 *  free with cerebro_image_free().
 *  Errors: E_IO, E_NOT_FOUND, E_FORMAT, E_CORRUPT, E_LIMIT, E_NOMEM.
 *  Thread-safe. */
CEREBRO_API cerebro_status cerebro_image_load_file(cerebro_image **out, const char *path,
                                                   const cerebro_image_options *opts);
/** Same as cerebro_image_load_file() from memory. `name` (may be NULL) is used
 *  only in error messages. The buffer is not retained. */
CEREBRO_API cerebro_status cerebro_image_load_memory(cerebro_image **out, const void *data,
                                                     size_t size, const char *name,
                                                     const cerebro_image_options *opts);
/** Wraps a copy of caller RGB pixels (row stride in bytes, >= 3*width). */
CEREBRO_API cerebro_status cerebro_image_from_rgb(cerebro_image **out, const uint8_t *rgb,
                                                  uint32_t width, uint32_t height, size_t stride,
                                                  const cerebro_image_options *opts);
CEREBRO_API void cerebro_image_free(cerebro_image *image);
CEREBRO_API uint32_t cerebro_image_width(const cerebro_image *image);
CEREBRO_API uint32_t cerebro_image_height(const cerebro_image *image);
/** Tightly packed RGB rows (stride 3*width), owned by the image. */
CEREBRO_API const uint8_t *cerebro_image_pixels(const cerebro_image *image);

/** Resamples to width x height with PIL-compatible bicubic (antialiased,
 *  a = -0.5). *out is a new image. Errors: E_INVALID, E_LIMIT, E_NOMEM. */
CEREBRO_API cerebro_status cerebro_image_resize(cerebro_image **out, const cerebro_image *image,
                                                uint32_t width, uint32_t height);

/** Encodes as baseline JPEG (quality 1..100). *data is allocated by the
 *  library: free it with cerebro_free(). Used for thumbnails. */
CEREBRO_API cerebro_status cerebro_image_encode_jpeg(const cerebro_image *image, int quality,
                                                     void **data, size_t *size);

/** Number of floats written by the preprocess functions: 3 * size * size. */
CEREBRO_API size_t cerebro_image_tensor_size(const cerebro_image_options *opts);

/** Decodes and preprocesses a file into a CHW float32 tensor
 *  (out: cerebro_image_tensor_size(opts) floats, caller-owned), normalised
 *  with opts->mean/std. Thread-safe. Errors as cerebro_image_load_file(). */
CEREBRO_API cerebro_status cerebro_image_preprocess_file(const char *path,
                                                         const cerebro_image_options *opts,
                                                         float *out);
/** Same from memory; `name` only labels error messages. */
CEREBRO_API cerebro_status cerebro_image_preprocess_memory(const void *data, size_t size,
                                                           const char *name,
                                                           const cerebro_image_options *opts,
                                                           float *out);
/** Same from an already decoded image (the mode field does not apply). */
CEREBRO_API cerebro_status cerebro_image_preprocess(const cerebro_image *image,
                                                    const cerebro_image_options *opts,
                                                    float *out);

/* ------------------------------------------------------------------------ */
/* Video frames                                                               */
/* ------------------------------------------------------------------------ */

/** Decodes the frame a video shows at `timestamp` seconds from its start
 *  (the last frame that starts at or before it; past the end, the last
 *  frame), as search hits' timestamps give it: e.g. for a thumbnail of a
 *  hit. Videos are read with FFmpeg (MP4/MOV/MKV/WebM/AVI with the codecs
 *  the system's FFmpeg decodes). opts: max_pixels and the background apply
 *  (NULL: defaults); the frame is returned at full size. *out receives a
 *  new image to free with cerebro_image_free(). A single call gives up
 *  after 60 s of decoding. Thread-safe.
 *  Errors: E_INVALID (NULL, negative or non-finite timestamp),
 *  E_NOT_FOUND, E_IO, E_FORMAT (not a video, or no video stream),
 *  E_UNSUPPORTED (no decoder for the codec), E_CORRUPT (the data ends or
 *  is damaged before that time: the message names the time asked for and
 *  the last frame decoded), E_LIMIT (frame size, time), E_NOMEM. */
CEREBRO_API cerebro_status cerebro_video_frame_load(cerebro_image **out, const char *path,
                                                    double timestamp,
                                                    const cerebro_image_options *opts);

/* ------------------------------------------------------------------------ */
/* Tokenizer (CLIP byte-level BPE or SentencePiece)                           */
/* ------------------------------------------------------------------------ */

typedef struct cerebro_tokenizer cerebro_tokenizer;

/** Opens a tokenizer file, its kind sniffed from the bytes:
 *  - CLIP BPE merges (`bpe_simple_vocab_16e6.txt` or its .gz): CLIP's
 *    tokenizer, start and end tokens the last two ids;
 *  - a SentencePiece model (`*.model`, the serialised ModelProto that
 *    spm_train writes; at most 64 MiB): its pieces as libsentencepiece
 *    encodes them, then the model's end-of-sentence id (`</s>`) when it has
 *    one; no start token, no lower-casing (a model bundle's tokenizer
 *    follows the bundle's own rules instead, docs/bundle-format.md).
 *  Immutable afterwards; share freely between threads.
 *  Errors: E_INVALID, E_NOT_FOUND, E_IO, E_FORMAT (a damaged SentencePiece
 *  model), E_CORRUPT, E_LIMIT, E_NOMEM. */
CEREBRO_API cerebro_status cerebro_tokenizer_open(cerebro_tokenizer **out, const char *merges_path);
CEREBRO_API void cerebro_tokenizer_free(cerebro_tokenizer *tok);
/** Vocabulary size (49408 for CLIP; the piece count of a SentencePiece model). */
CEREBRO_API uint32_t cerebro_tokenizer_vocab_size(const cerebro_tokenizer *tok);

/** Tokenizes UTF-8 text (len bytes; text need not be NUL-terminated) as
 *  CLIP's simple_tokenizer does -- HTML unescape (twice), whitespace
 *  collapse, lower-case, CLIP's pre-tokenizer, byte-level BPE -- except that
 *  ftfy.fix_text is not applied: start token, BPE ids, end token. Input is
 *  limited to 1 MiB (E_LIMIT). With context_length > 0 the
 *  result is truncated to context_length tokens keeping the end token last;
 *  0 means no truncation. Writes at most `capacity` ids; *n_tokens gets the
 *  full count (call with capacity 0 to size the buffer: returns E_LIMIT if
 *  capacity is too small). Invalid UTF-8 is refused with E_INVALID.
 *  A SentencePiece tokenizer: the text lower-cased and canonicalised when
 *  its bundle says so, libsentencepiece's EncodeAsIds (no sampling), then
 *  the end token (and the start token first, where the bundle has one);
 *  truncation keeps the end token last in the same way.
 *  Thread-safe. */
CEREBRO_API cerebro_status cerebro_tokenizer_encode(const cerebro_tokenizer *tok, const char *text,
                                                    size_t len, uint32_t context_length,
                                                    int32_t *tokens, size_t capacity,
                                                    size_t *n_tokens);

/* ------------------------------------------------------------------------ */
/* Models                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct cerebro_model cerebro_model;

typedef enum cerebro_precision {
    CEREBRO_PRECISION_AUTO = 0, /**< bf16 where the CPU has AMX/AVX512-BF16 and, checked at
                                     load, the model's bf16 embeddings are within cosine
                                     0.999 of fp32's on a probe; else fp32 */
    CEREBRO_PRECISION_FP32 = 1, /**< the reference */
    CEREBRO_PRECISION_BF16 = 2
} cerebro_precision;

#define CEREBRO_MODEL_OPTIONS_VERSION 1
typedef struct cerebro_model_options {
    uint32_t version;       /**< CEREBRO_MODEL_OPTIONS_VERSION */
    uint32_t n_threads;     /**< intra-op threads; 0 = online CPUs */
    uint32_t precision;     /**< cerebro_precision */
    uint32_t reserved;      /**< must be 0 */
    const char *vocab_path; /**< BPE merges for archives without their own (OpenAI CLIP JIT); may be NULL */
} cerebro_model_options;

#define CEREBRO_MODEL_OPTIONS_INIT {CEREBRO_MODEL_OPTIONS_VERSION, 0, CEREBRO_PRECISION_AUTO, 0, NULL}
CEREBRO_API void cerebro_model_options_init(cerebro_model_options *opts);

/** Loads a model bundle (TorchScript archive with encode_image/encode_text
 *  and cerebro/config.json) or an OpenAI CLIP JIT checkpoint (then
 *  opts->vocab_path is required). Errors: E_NOT_FOUND, E_IO, E_FORMAT,
 *  E_UNSUPPORTED (schema version), E_MISMATCH (dims), E_MODEL. */
CEREBRO_API cerebro_status cerebro_model_open(cerebro_model **out, const char *path,
                                              const cerebro_model_options *opts);
CEREBRO_API void cerebro_model_free(cerebro_model *model);
/** Embedding dimension D (0 for NULL). */
CEREBRO_API uint32_t cerebro_model_dim(const cerebro_model *model);
/** Model id: hex content hash of the bundle file. Owned by the model. */
CEREBRO_API const char *cerebro_model_id(const cerebro_model *model);
/** Human name from the bundle config. Owned by the model. */
CEREBRO_API const char *cerebro_model_name(const cerebro_model *model);
/** The precision the model runs in: FP32 or BF16 (what AUTO chose);
 *  AUTO for NULL. */
CEREBRO_API cerebro_precision cerebro_model_precision(const cerebro_model *model);
/** Text context length L (77 for CLIP). */
CEREBRO_API uint32_t cerebro_model_context_length(const cerebro_model *model);
/** The bundle's cerebro/config.json text (owned by the model). */
CEREBRO_API const char *cerebro_model_config_json(const cerebro_model *model);
/** The model's preprocessing parameters (size, mean/std, resize mode,
 *  background) with the library's default limits; adjust mode/limits
 *  before use. */
CEREBRO_API cerebro_status cerebro_model_image_options(const cerebro_model *model,
                                                       cerebro_image_options *out);
/** The model's tokenizer, owned by the model. */
CEREBRO_API const cerebro_tokenizer *cerebro_model_tokenizer(const cerebro_model *model);

/** Encodes n texts into out[n * dim], L2-normalised. Texts longer than the
 *  context are truncated (end token kept). Thread-safe. */
CEREBRO_API cerebro_status cerebro_model_encode_text(const cerebro_model *model,
                                                     const char *const *texts, size_t n,
                                                     float *out);
/** Encodes n token sequences of `length` ids each (row-major). */
CEREBRO_API cerebro_status cerebro_model_encode_tokens(const cerebro_model *model,
                                                       const int32_t *tokens, size_t n,
                                                       size_t length, float *out);
/** Encodes n preprocessed CHW tensors (n * cerebro_image_tensor_size()). */
CEREBRO_API cerebro_status cerebro_model_encode_preprocessed(const cerebro_model *model,
                                                             const float *pixels, size_t n,
                                                             float *out);

/** Called for each file of a batch that failed; the batch goes on. */
typedef void (*cerebro_item_error_fn)(void *user, size_t index, cerebro_status status,
                                      const char *message);

#define CEREBRO_ENCODE_OPTIONS_VERSION 2
typedef struct cerebro_encode_options {
    uint32_t version;               /**< CEREBRO_ENCODE_OPTIONS_VERSION */
    uint32_t mode;                  /**< cerebro_preprocess_mode (default FAST) */
    uint32_t batch_size;            /**< images per forward pass; 0 = 32 */
    uint32_t n_workers;             /**< decode threads; 0 = online CPUs */
    cerebro_item_error_fn on_error; /**< may be NULL */
    void *user;                     /**< passed to on_error */
    /** Version 2, cerebro_model_encode_image_files() only (may be NULL):
     *  receives 2 values per file, the width and height of the image the
     *  file holds (orientation applied, full size even when FAST decodes
     *  less), as cerebro_index_add() stores them; 0, 0 for a failed file. */
    uint32_t *sizes;
    /** Version 2, cerebro_model_encode_image_files() only (may be NULL):
     *  receives 32 bytes per file, the SHA-256 of its bytes (the content
     *  hash cerebro_index_add() stores); zeros when it could not be read. */
    uint8_t *hashes;
} cerebro_encode_options;

#define CEREBRO_ENCODE_OPTIONS_INIT \
    {CEREBRO_ENCODE_OPTIONS_VERSION, CEREBRO_PREPROCESS_FAST, 0, 0, NULL, NULL, NULL, NULL}
CEREBRO_API void cerebro_encode_options_init(cerebro_encode_options *opts);

/** Decodes and encodes n image files into out[n * dim]. statuses[i] (array
 *  of n, may be NULL) gets each file's status; a failed file's row is
 *  zeroed and the batch continues. Returns CEREBRO_OK when the batch ran
 *  (even if some files failed); check statuses. */
CEREBRO_API cerebro_status cerebro_model_encode_image_files(const cerebro_model *model,
                                                            const char *const *paths, size_t n,
                                                            const cerebro_encode_options *opts,
                                                            float *out, cerebro_status *statuses);
/** Encodes one encoded image (bytes in any format cerebro_image_load_memory()
 *  reads) into out[dim]. */
CEREBRO_API cerebro_status cerebro_model_encode_image_memory(const cerebro_model *model,
                                                             const void *data, size_t size,
                                                             const cerebro_encode_options *opts,
                                                             float *out);
/** Encodes one decoded image into out[dim]. */
CEREBRO_API cerebro_status cerebro_model_encode_image(const cerebro_model *model,
                                                      const cerebro_image *image, float *out);

/* ------------------------------------------------------------------------ */
/* Index: durable store + k-NN search                                         */
/* ------------------------------------------------------------------------ */

typedef struct cerebro_index cerebro_index;
typedef struct cerebro_results cerebro_results;

/** Flags for cerebro_index_options.flags. */
#define CEREBRO_INDEX_CREATE 0x1u   /**< create the directory/store if missing */
#define CEREBRO_INDEX_READONLY 0x2u /**< open for searching only */

/** The recall@10 a new store tunes its approximate structure for. */
#define CEREBRO_INDEX_RECALL_TARGET_DEFAULT 0.95

#define CEREBRO_INDEX_OPTIONS_VERSION 2
typedef struct cerebro_index_options {
    uint32_t version;       /**< CEREBRO_INDEX_OPTIONS_VERSION */
    uint32_t flags;         /**< CEREBRO_INDEX_* (default CREATE) */
    const char *factory;    /**< FAISS factory string, NULL = choose from size */
    uint64_t memory_budget; /**< bytes for the ANN index, 0 = unlimited */
    /** Version 2. recall@10 the store keeps its approximate structure at:
     *  whenever the structure is built (and again after the collection has
     *  grown or shrunk by a fifth since), the store measures recall@10 of a
     *  seeded sample of its own vectors as queries, against exact search over
     *  all of them, and sets the structure's search parameter (IVF nprobe, HNSW efSearch) to
     *  the smallest value that reaches this target; the value and the
     *  recall measured are recorded in the store and shown by
     *  cerebro_index_stats_get() (`structure`, e.g. "IVF512,Flat|nprobe=37",
     *  and `recall_at_10`). Compressed codes that cannot reach it get the
     *  best recall they can. A factory string that names the parameter
     *  ("IVF512,Flat|nprobe=24") is used as given. In (0, 1]; 0 keeps the
     *  target the store recorded (CEREBRO_INDEX_RECALL_TARGET_DEFAULT for a
     *  new store); a different target retunes when the index is opened for
     *  writing. Others are E_INVALID. Exact structures (below ~100k vectors
     *  unless a factory string says otherwise) have recall 1 and no tuning. */
    double recall_target;
} cerebro_index_options;

#define CEREBRO_INDEX_OPTIONS_INIT {CEREBRO_INDEX_OPTIONS_VERSION, CEREBRO_INDEX_CREATE, NULL, 0, 0.0}
CEREBRO_API void cerebro_index_options_init(cerebro_index_options *opts);

/** Opens (or creates) the index directory `dir` for `model`. The model
 *  must outlive the index. A store written by another model is refused
 *  with E_MISMATCH naming both models. The ANN file is a cache: when it
 *  cannot be written (a full disk) the index still opens, the structure
 *  built in memory, and the file is written by a later commit. */
CEREBRO_API cerebro_status cerebro_index_open(cerebro_index **out, const char *dir,
                                              const cerebro_model *model,
                                              const cerebro_index_options *opts);
/** Closes the index; committed work is durable. NULL is a no-op. */
CEREBRO_API void cerebro_index_free(cerebro_index *index);
/** Brings a read-only index up to date with what another handle (another
 *  process running cerebro_index_add(), for example) has committed since it
 *  was opened: its searches then see the new state. The new state is taken
 *  once the writer has saved it, which cerebro_index_add() does when it
 *  returns; before that the call keeps the state it had and succeeds, so it
 *  may simply be called again later (a server calls it every few seconds).
 *  *changed (may be NULL) is set to 1 when the state moved. On an index
 *  opened for writing it does nothing (its own commits keep it current).
 *  Thread-safe: searches running meanwhile finish on the state they began on. */
CEREBRO_API cerebro_status cerebro_index_refresh(cerebro_index *index, int *changed);

/** Progress report passed to a cerebro_progress_fn. */
typedef struct cerebro_progress {
    uint32_t version;     /**< 1 */
    /** 0: `path` is finished (or NULL: the walk's first report). 1: an interim
     *  report while `path`, a video, is still decoding (at least twice a
     *  second, and every 250 decoded frames; `done` does not count it yet):
     *  returning non-zero cancels at once, and the video keeps what it had in
     *  the index before. */
    uint32_t partial;
    uint64_t done;        /**< files processed so far */
    uint64_t total;       /**< files found (grows while walking) */
    uint64_t added;       /**< files encoded and committed */
    uint64_t skipped;     /**< unchanged files */
    uint64_t failed;      /**< files that could not be indexed */
    const char *path;     /**< current file (valid during the call) */
    cerebro_status status;/**< status of `path` */
    const char *message;  /**< error detail for `path`, or NULL */
} cerebro_progress;

/** Return non-zero to cancel (the call returns E_CANCELLED after committing
 *  what was already done). Called after each file and, during a video,
 *  with partial = 1 at least twice a second. */
typedef int (*cerebro_progress_fn)(void *user, const cerebro_progress *progress);

/** Flags for cerebro_add_options.flags. */
#define CEREBRO_ADD_NO_RECURSE 0x1u      /**< do not descend into subfolders */
#define CEREBRO_ADD_HIDDEN 0x2u          /**< include hidden files and folders */
#define CEREBRO_ADD_FOLLOW_SYMLINKS 0x4u /**< follow symbolic links (loops detected) */
#define CEREBRO_ADD_NO_VIDEO 0x8u        /**< skip video files */

#define CEREBRO_ADD_OPTIONS_VERSION 2
typedef struct cerebro_add_options {
    uint32_t version;             /**< CEREBRO_ADD_OPTIONS_VERSION */
    uint32_t flags;               /**< CEREBRO_ADD_* */
    uint32_t mode;                /**< cerebro_preprocess_mode (default FAST) */
    uint32_t batch_size;          /**< images per forward pass, 0 = 32 */
    uint32_t commit_every;        /**< files per transaction, 0 = 256 */
    uint32_t n_workers;           /**< decode threads, 0 = online CPUs */
    cerebro_progress_fn progress; /**< may be NULL */
    void *user;                   /**< passed to progress */
    double frame_interval;        /**< video: max seconds between kept frames (0 = 10) */
    uint32_t max_frames;          /**< video: max frames per file (0 = 500) */
    float scene_threshold;        /**< video: scene-change score in (0,1] (0 = 0.3) */
    float dedup_threshold;        /**< video: drop frames with cosine above this to the last kept (0 = 0.98; 1 = keep all) */
    double file_time_limit;       /**< video: seconds of decoding per file (0 = 120) */
    /* version 2: */
    const char *const *exclude;   /**< fnmatch(3) patterns of entries a folder walk leaves
                                       out (may be NULL): a pattern without '/' matches a
                                       file's or folder's name at any depth ("Screenshots",
                                       "*.tmp"), one with '/' the path below the folder
                                       given ("2019/raw", "2019/IMG_00??.jpg"; a '*' stays
                                       within one folder; a trailing '/' is ignored); an
                                       excluded folder is not entered. What an
                                       earlier run indexed there counts as vanished and is
                                       removed. A file named directly is never excluded. */
    size_t n_exclude;             /**< patterns in exclude, at most 256 of 1 to 1023 bytes */
} cerebro_add_options;

#define CEREBRO_ADD_OPTIONS_INIT \
    {CEREBRO_ADD_OPTIONS_VERSION, 0, CEREBRO_PREPROCESS_FAST, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, NULL, 0}
CEREBRO_API void cerebro_add_options_init(cerebro_add_options *opts);

/** Totals of one cerebro_index_add() call. */
typedef struct cerebro_add_stats {
    uint32_t version; /**< 1 */
    uint32_t reserved;
    uint64_t added, updated, skipped, removed, failed;
    uint64_t frames; /**< video frames committed (kept after de-duplication) */
} cerebro_add_stats;

/** Adds files and folders (recursively) incrementally: unchanged files are
 *  skipped (same size and mtime, or same content hash), changed ones
 *  re-encoded, moved ones (same content under a new path) keep their
 *  vectors and id, vanished ones under the given folders removed. Inside
 *  folders only files with an image extension (.jpg .jpeg .jpe .jfif .png
 *  .webp .gif .tif .tiff .bmp .dib .heic .heif .hif .avif .jxl and the camera
 *  RAW ones: .dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .pef
 *  .srw .x3f .mrw .3fr .iiq .erf .kdc .dcr .mos .rwl; any case; the format
 *  itself is told by the bytes) and .mp4/.m4v/.mov/.mkv/.webm/.avi videos
 *  (unless CEREBRO_ADD_NO_VIDEO) are taken and hidden
 *  entries are skipped (CEREBRO_ADD_HIDDEN); a file named directly is always
 *  tried.
 *  A video becomes one item per kept frame, with its timestamp: the first
 *  frame, each scene change (scene_threshold: the mean absolute difference
 *  of consecutive 64x36 RGB thumbnails over all three channels, on FFmpeg's
 *  `scene` scale, so a cut between scenes of equal brightness and different
 *  colour counts) and at least one frame every
 *  frame_interval seconds (widened so that max_frames cover the whole
 *  video), less frames whose embedding has a cosine above dedup_threshold
 *  to the last kept one. Its frames and its file row are committed
 *  together after the images; an unchanged video is not decoded again and
 *  a changed one replaces all its frames. A damaged or truncated video
 *  keeps the frames that decoded and is recorded with its error (counted
 *  in stats->failed, reported through progress); decoding a file stops
 *  after file_time_limit seconds the same way. Paths are stored absolute: the parent folder resolved, the last
 *  component kept. A path that cannot be reached is reported and its
 *  indexed files are kept (an unmounted drive does not empty the index);
 *  a file replaced by something that is not a file counts as vanished.
 *  Work is committed in batches (commit_every files, or what one second
 *  brought when that comes first; progress is reported per commit): a
 *  killed process loses at most the batch in flight, and a re-run resumes.
 *  A bad file never stops the run: it is recorded with its error and
 *  reported through the progress callback. A full disk or a failed write
 *  stops it with E_IO, the message naming the file (cerebro.db, or
 *  ann-N.faiss.tmp) and the system's reason ("No space left on device");
 *  what was committed before stays, stats and the progress callback count
 *  exactly what was committed, and a re-run once there is space finishes
 *  the work. Returns CEREBRO_OK when the run
 *  completed (check stats->failed), E_CANCELLED when the callback asked to
 *  stop, or the error of the paths when none could be read. stats may be
 *  NULL. Serialised with other writers; searches continue meanwhile. */
CEREBRO_API cerebro_status cerebro_index_add(cerebro_index *index, const char *const *paths,
                                             size_t n, const cerebro_add_options *opts,
                                             cerebro_add_stats *stats);
/** Removes a file (or every frame of a video) by path: the path as this
 *  machine resolves it (relative to the current folder, through links),
 *  else an absolute path as stored (a file whose folder is gone, or one
 *  indexed on another machine through cerebro_index_add_embeddings()).
 *  E_NOT_FOUND if absent. */
CEREBRO_API cerebro_status cerebro_index_remove_path(cerebro_index *index, const char *path);
/** Removes one item by id. E_NOT_FOUND if absent. */
CEREBRO_API cerebro_status cerebro_index_remove_id(cerebro_index *index, int64_t id);
/** Removes many files (each path as cerebro_index_remove_path() takes it)
 *  and items (by id) in one committed step, with one rewrite of the search
 *  structure's file for all of them: cerebro_index_remove_path() in a loop
 *  rewrites it once per call (a 50,000-item Flat store of 512-d vectors:
 *  100 MB each time). paths or ids may be NULL when their count is 0.
 *  statuses, when not NULL, gets n_paths + n_ids results, the paths' first,
 *  when the call returns OK or E_NOT_FOUND: CEREBRO_OK for each one removed,
 *  E_NOT_FOUND for each one not in the index (a path named twice: the
 *  second time). *removed, when not NULL,
 *  counts the removed ones. Returns CEREBRO_OK when the step committed, some
 *  not found or not; E_NOT_FOUND, nothing changed, when none was in the
 *  index; E_INVALID for a NULL entry or a read-only index; any other error
 *  leaves the index as it was. Nothing to remove (both counts 0) is OK. */
CEREBRO_API cerebro_status cerebro_index_remove_many(cerebro_index *index, const char *const *paths,
                                                     size_t n_paths, const int64_t *ids, size_t n_ids,
                                                     cerebro_status *statuses, size_t *removed);

#define CEREBRO_MAX_K 10000

/** The default minimum relevance (cerebro_search_options.min_relevance), chosen
 *  by measurement on the default model's validation data, stores of 50 to 18,362
 *  items (models/MODEL_CARD.md, "Relevance cutoff"). A bundle that carries its
 *  own calibration (config.json "relevance", docs/bundle-format.md) has its
 *  relevances moved so that this same cutoff is the threshold measured for it. */
#define CEREBRO_MIN_RELEVANCE_DEFAULT 3.35f

#define CEREBRO_SEARCH_OPTIONS_VERSION 2
typedef struct cerebro_search_options {
    uint32_t version;   /**< CEREBRO_SEARCH_OPTIONS_VERSION (1: no min_relevance) */
    uint32_t k;         /**< results wanted, 1..CEREBRO_MAX_K (0 = 10) */
    const char *prefix; /**< only paths starting with this (stored paths are absolute; a
                             relative prefix is made absolute against the current
                             directory); NULL = all. Applied inside the k-NN search. */
    float min_relevance; /**< (version 2) drop hits whose relevance
                             (cerebro_results_relevance) is below this; 0 or less keeps
                             every hit. Default CEREBRO_MIN_RELEVANCE_DEFAULT. A store of
                             fewer than 50 items has no relevance: nothing is dropped. */
} cerebro_search_options;

#define CEREBRO_SEARCH_OPTIONS_INIT \
    {CEREBRO_SEARCH_OPTIONS_VERSION, 10, NULL, CEREBRO_MIN_RELEVANCE_DEFAULT}
CEREBRO_API void cerebro_search_options_init(cerebro_search_options *opts);

/** What an indexed item is (cerebro_hit.kind). */
typedef enum cerebro_item_kind {
    CEREBRO_ITEM_IMAGE = 0,      /**< a still image (timestamp -1) */
    CEREBRO_ITEM_VIDEO_FRAME = 1 /**< a frame of a video (timestamp >= 0 seconds) */
} cerebro_item_kind;

/** One search result; strings are owned by the results handle. */
typedef struct cerebro_hit {
    int64_t id;
    float score;       /**< cosine similarity */
    uint32_t width;    /**< image (frame) size in pixels */
    uint32_t height;
    uint32_t kind;     /**< cerebro_item_kind */
    double timestamp;  /**< seconds into the video, or -1 for still images;
                            cerebro_video_frame_load() gives the frame */
    const char *path;  /**< file path as indexed */
} cerebro_hit;

CEREBRO_API cerebro_status cerebro_index_search_text(cerebro_index *index, const char *text,
                                                     const cerebro_search_options *opts,
                                                     cerebro_results **out);
CEREBRO_API cerebro_status cerebro_index_search_image_file(cerebro_index *index, const char *path,
                                                           const cerebro_search_options *opts,
                                                           cerebro_results **out);
CEREBRO_API cerebro_status cerebro_index_search_image_memory(cerebro_index *index,
                                                             const void *data, size_t size,
                                                             const cerebro_search_options *opts,
                                                             cerebro_results **out);
/** vector: dim floats (normalised by the call). */
CEREBRO_API cerebro_status cerebro_index_search_vector(cerebro_index *index, const float *vector,
                                                       const cerebro_search_options *opts,
                                                       cerebro_results **out);
/** "More like this": neighbours of an indexed item (itself excluded). */
CEREBRO_API cerebro_status cerebro_index_search_id(cerebro_index *index, int64_t id,
                                                   const cerebro_search_options *opts,
                                                   cerebro_results **out);
/** The item with this id as a one-hit result (score 1). E_NOT_FOUND if absent. */
CEREBRO_API cerebro_status cerebro_index_get(cerebro_index *index, int64_t id,
                                             cerebro_results **out);
/** Copies an item's stored vector into out[dim]. */
CEREBRO_API cerebro_status cerebro_index_get_vector(cerebro_index *index, int64_t id, float *out);

CEREBRO_API size_t cerebro_results_count(const cerebro_results *results);
/** Copies hit i into *hit (its path stays owned by `results`). */
CEREBRO_API cerebro_status cerebro_results_get(const cerebro_results *results, size_t i,
                                               cerebro_hit *hit);
/** Relevance of hit i: how many standard deviations its score stands above
 *  the mean of the same query's scores over the whole store (every item of a
 *  store of up to 4,096 items, a uniform sample of 4,096 in a larger one),
 *  adjusted for the store's size N (under a prefix: the items below it, at
 *  least 50): minus 0.38 * (sqrt(2 ln N) - sqrt(2 ln 2000)),
 *  so that the best of N unrelated items stands about as high in a store of 50
 *  items as in one of 18,000 and one threshold fits every size (a store of
 *  2,000 items keeps the bare standard score; 72 items add 0.37, 100,000
 *  subtract 0.34). Scores mean different things for different queries;
 *  relevance does not: a nonsense query's best hit stands where the best of
 *  as many unrelated scores would (about 2.9 to 3.4 with the default model),
 *  a real match above. The adjustment is the same for every hit of a search:
 *  it never changes their order. 0.38 is the default model's slope; a bundle
 *  with a "relevance" record (docs/bundle-format.md) gives its own slope, and
 *  its threshold t moves every relevance by CEREBRO_MIN_RELEVANCE_DEFAULT - t,
 *  so that the default cutoff is the one measured for that model.
 *  NAN when the store has fewer than 50 items, or i is out of range. */
CEREBRO_API float cerebro_results_relevance(const cerebro_results *results, size_t i);
CEREBRO_API void cerebro_results_free(cerebro_results *results);

typedef struct cerebro_index_stats {
    uint32_t version;        /**< 1 */
    uint32_t dim;
    uint64_t count;          /**< vectors (images + frames) */
    uint64_t files;          /**< distinct files */
    uint64_t failed;         /**< files recorded with an error */
    uint64_t memory_bytes;   /**< ANN index memory */
    double recall_at_10;     /**< measured vs exact search on a sample of the stored
                                  vectors (see cerebro_index_options.recall_target); 1
                                  for exact structures, -1 not measured yet */
    char structure[64];      /**< FAISS factory string in use and its search parameter,
                                  e.g. "Flat", "IVF512,Flat|nprobe=37" */
    char model_id[72];       /**< model id the store was built with */
} cerebro_index_stats;

CEREBRO_API cerebro_status cerebro_index_stats_get(cerebro_index *index,
                                                   cerebro_index_stats *out);

/* ------------------------------------------------------------------------ */
/* Precomputed embeddings, store merge (distributed indexing)                 */
/* ------------------------------------------------------------------------ */

/** Calls fn for every file cerebro_index_add() would encode now: the files
 *  and folders of `paths` walked with the same rules (flags: CEREBRO_ADD_*,
 *  the file extensions listed at cerebro_index_add()) less the files the
 *  store already has with the same size and mtime (indexed or recorded as
 *  failed). fn gets the absolute path (the store's key), its size and mtime
 *  in nanoseconds, the kind add would make of it (cerebro_item_kind: a video
 *  file gives CEREBRO_ITEM_VIDEO_FRAME) and CEREBRO_OK; or, for something
 *  that cannot be visited (an unreadable folder, a broken link, a missing
 *  path), its status and message with size -1. A file reached through two
 *  paths is reported once. fn returning non-zero stops the walk
 *  (E_CANCELLED). *unchanged (may be NULL) receives how many files were
 *  skipped as unchanged. Nothing is written; vanished files are not looked
 *  for. Errors: E_INVALID, E_STORE, E_NOMEM, E_CANCELLED; when none of the
 *  paths could be visited, the status of the last. Reads the committed
 *  state; runs alongside writers and searches. Walk errors are reported
 *  while walking, the files after the walk, in path order. */
typedef int (*cerebro_pending_fn)(void *user, const char *path, int64_t size, int64_t mtime_ns,
                                  uint32_t kind, cerebro_status status, const char *message);
CEREBRO_API cerebro_status cerebro_index_pending(cerebro_index *index, const char *const *paths,
                                                 size_t n, uint32_t flags, cerebro_pending_fn fn,
                                                 void *user, uint64_t *unchanged);
/** cerebro_index_pending() with the walk's rules taken from `opts` (NULL:
 *  the defaults): its flags and, from version 2, its exclude patterns, as
 *  cerebro_index_add() applies them; the other fields are checked as add
 *  checks them and otherwise ignored. */
CEREBRO_API cerebro_status cerebro_index_pending_opts(cerebro_index *index, const char *const *paths,
                                                      size_t n, const cerebro_add_options *opts,
                                                      cerebro_pending_fn fn, void *user,
                                                      uint64_t *unchanged);

#define CEREBRO_EMBEDDING_VERSION 1
/** One precomputed item for cerebro_index_add_embeddings(): a still image,
 *  a frame of a video, or a file that could not be encoded. */
typedef struct cerebro_embedding {
    uint32_t version;     /**< CEREBRO_EMBEDDING_VERSION (the same in every item of a call) */
    uint32_t kind;        /**< cerebro_item_kind */
    const char *path;     /**< the file: an absolute path is stored as given (the file may
                               be on another machine); a relative one is made absolute as
                               cerebro_index_add() makes it */
    const float *vector;  /**< dim floats (normalised by the call); NULL for a failed file */
    int64_t size;         /**< file size in bytes, >= 0 */
    int64_t mtime_ns;     /**< modification time, nanoseconds since the epoch */
    uint8_t hash[32];     /**< SHA-256 of the file's bytes; all zero when unknown */
    uint32_t width;       /**< image (frame) size in pixels */
    uint32_t height;
    double timestamp;     /**< video frame: seconds from the start (>= 0); image: -1 */
    int32_t status;       /**< CEREBRO_OK, or the error the file failed with */
    uint32_t reserved;    /**< must be 0 */
    const char *error;    /**< failed file: its message (may be NULL) */
} cerebro_embedding;

/** Stores n precomputed items with their file metadata in one transaction,
 *  as cerebro_index_add() would have stored them had it encoded the files
 *  itself: items with the same path make one file (one item for an image
 *  or a failed file, one per frame for a video); a path the store already
 *  has is replaced, its old items removed. `model_id` and `dim` say what
 *  made the vectors: both must match the index's model
 *  (cerebro_model_id(), cerebro_model_dim()), else E_MISMATCH naming both
 *  and nothing is written. Every item is checked before anything is
 *  written: E_INVALID (naming the item) for a NULL or empty path, an
 *  unknown version or kind, a vector missing, zero or not finite, an
 *  image with more than one item, a failed file with a vector or a second
 *  item, a negative size or a frame without a timestamp. stats (may be
 *  NULL): added, updated (paths replaced), failed (failed files recorded),
 *  frames. Committed with the ANN updated and saved, as one batch of
 *  cerebro_index_add(): a killed process keeps all of it or none.
 *  Serialised with other writers; searches go on. */
CEREBRO_API cerebro_status cerebro_index_add_embeddings(cerebro_index *index, const char *model_id,
                                                        uint32_t dim,
                                                        const cerebro_embedding *items, size_t n,
                                                        cerebro_add_stats *stats);

/** Merges the stores in the n directories `dirs` (opened read-only, never
 *  changed) into this one: every file row and its items are copied with
 *  new ids. When a path is in both, the version with the newer mtime wins
 *  (the store's own on a tie); the older one is counted in stats->skipped.
 *  A store made with another model (or dimension, or store format) is
 *  refused with E_MISMATCH naming both models before anything is written;
 *  this index's own directory is E_INVALID. Committed in batches of files
 *  like cerebro_index_add(): a killed merge keeps what it committed and,
 *  run again, copies the rest (what it copied wins no tie). The ANN grows
 *  with each batch and is restructured (see cerebro_index_options) and
 *  written once at the end. stats (may be NULL): added, updated (paths
 *  replaced by a newer version), skipped, failed (failed files copied),
 *  frames. Errors: E_INVALID, E_NOT_FOUND (no store there), E_MISMATCH,
 *  E_CORRUPT, E_STORE, E_IO, E_NOMEM. Serialised with other writers. */
CEREBRO_API cerebro_status cerebro_index_merge(cerebro_index *index, const char *const *dirs,
                                               size_t n, cerebro_add_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* CEREBRO_CEREBRO_H */
