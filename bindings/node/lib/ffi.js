'use strict';
// Finds and loads libcerebro, checks its version and declares the C API for
// koffi. Loaded by the main thread and by each worker thread (lib/pool.js):
// every declaration here mirrors include/cerebro/cerebro.h, and
// tests/bindings checks the struct layouts against the C compiler's.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');
const { CerebroError, Status } = require('./errors');

/** The header version these declarations were written for. */
const VERSION = Object.freeze({ major: 0, minor: 1, patch: 0 });

function candidates() {
  const env = process.env.CEREBRO_LIBRARY;
  if (env) return [['CEREBRO_LIBRARY', env]]; // an explicit choice is never second-guessed
  const here = path.resolve(__dirname, '..');
  const found = ['libcerebro.so', `libcerebro.so.${VERSION.major}`]
    .map((name) => path.join(here, name))
    .filter((p) => fs.existsSync(p))
    .map((p) => ['package directory', p]);
  found.push(['system loader', `libcerebro.so.${VERSION.major}`]);
  return found;
}

function open(explicit) {
  const tried = [];
  for (const [origin, name] of explicit ? [['worker', explicit]] : candidates()) {
    let lib;
    try {
      lib = koffi.load(name);
    } catch (e) {
      tried.push(`${origin} (${name}): ${e.message}`);
      continue;
    }
    checkVersion(lib, name);
    return { lib, name };
  }
  throw new Error('libcerebro not found; set CEREBRO_LIBRARY to the path of libcerebro.so ' +
                  `(tried ${tried.join('; ')})`);
}

function checkVersion(lib, name) {
  let fn;
  try {
    fn = lib.func('unsigned int cerebro_version_number(void)');
  } catch {
    throw new Error(`${name} is not libcerebro (no cerebro_version_number)`);
  }
  const found = fn();
  const major = Math.floor(found / 10000);
  if (major !== VERSION.major) {
    const minor = Math.floor(found / 100) % 100;
    throw new Error(`${name} is libcerebro ${major}.${minor}.${found % 100}, but these bindings ` +
                    `were written for major version ${VERSION.major} ` +
                    `(${VERSION.major}.${VERSION.minor}.${VERSION.patch}); ` +
                    'install bindings matching the library');
  }
}

// ---- types -------------------------------------------------------------------

const T = {};
for (const name of ['cerebro_model', 'cerebro_tokenizer', 'cerebro_image', 'cerebro_index',
                    'cerebro_results']) {
  T[name] = koffi.opaque(name);
}
T.cerebro_status = koffi.alias('cerebro_status', 'int');

T.cerebro_image_options = koffi.struct('cerebro_image_options', {
  version: 'uint32_t', size: 'uint32_t', mean: koffi.array('float', 3, 'Array'),
  std: koffi.array('float', 3, 'Array'), mode: 'uint32_t', resize: 'uint32_t', flags: 'uint32_t',
  background: koffi.array('uint8_t', 4, 'Array'), max_pixels: 'uint64_t', max_file_bytes: 'uint64_t',
});
T.cerebro_model_options = koffi.struct('cerebro_model_options', {
  version: 'uint32_t', n_threads: 'uint32_t', precision: 'uint32_t', reserved: 'uint32_t',
  vocab_path: 'const char *',
});
T.cerebro_item_error_fn = koffi.proto(
  'void cerebro_item_error_fn(void *user, size_t index, cerebro_status status, const char *message)');
T.cerebro_encode_options = koffi.struct('cerebro_encode_options', {
  version: 'uint32_t', mode: 'uint32_t', batch_size: 'uint32_t', n_workers: 'uint32_t',
  on_error: 'cerebro_item_error_fn *', user: 'void *', sizes: 'uint32_t *', hashes: 'uint8_t *',
});
T.cerebro_index_options = koffi.struct('cerebro_index_options', {
  version: 'uint32_t', flags: 'uint32_t', factory: 'const char *', memory_budget: 'uint64_t',
  recall_target: 'double',
});
T.cerebro_progress = koffi.struct('cerebro_progress', {
  version: 'uint32_t', partial: 'uint32_t', done: 'uint64_t', total: 'uint64_t', added: 'uint64_t',
  skipped: 'uint64_t', failed: 'uint64_t', path: 'const char *', status: 'cerebro_status',
  message: 'const char *',
});
T.cerebro_progress_fn = koffi.proto(
  'int cerebro_progress_fn(void *user, const cerebro_progress *progress)');
T.cerebro_add_options = koffi.struct('cerebro_add_options', {
  version: 'uint32_t', flags: 'uint32_t', mode: 'uint32_t', batch_size: 'uint32_t',
  commit_every: 'uint32_t', n_workers: 'uint32_t', progress: 'cerebro_progress_fn *', user: 'void *',
  frame_interval: 'double', max_frames: 'uint32_t', scene_threshold: 'float',
  dedup_threshold: 'float', file_time_limit: 'double', exclude: 'const char **', n_exclude: 'size_t',
});
T.cerebro_add_stats = koffi.struct('cerebro_add_stats', {
  version: 'uint32_t', reserved: 'uint32_t', added: 'uint64_t', updated: 'uint64_t',
  skipped: 'uint64_t', removed: 'uint64_t', failed: 'uint64_t', frames: 'uint64_t',
});
T.cerebro_search_options = koffi.struct('cerebro_search_options', {
  version: 'uint32_t', k: 'uint32_t', prefix: 'const char *', min_relevance: 'float',
});
T.cerebro_hit = koffi.struct('cerebro_hit', {
  id: 'int64_t', score: 'float', width: 'uint32_t', height: 'uint32_t', kind: 'uint32_t',
  timestamp: 'double', path: 'const char *',
});
T.cerebro_index_stats = koffi.struct('cerebro_index_stats', {
  version: 'uint32_t', dim: 'uint32_t', count: 'uint64_t', files: 'uint64_t', failed: 'uint64_t',
  memory_bytes: 'uint64_t', recall_at_10: 'double', structure: koffi.array('char', 64, 'String'),
  model_id: koffi.array('char', 72, 'String'),
});

T.cerebro_embedding = koffi.struct('cerebro_embedding', {
  version: 'uint32_t', kind: 'uint32_t', path: 'const char *', vector: 'const float *',
  size: 'int64_t', mtime_ns: 'int64_t', hash: koffi.array('uint8_t', 32, 'Array'), width: 'uint32_t',
  height: 'uint32_t', timestamp: 'double', status: 'int32_t', reserved: 'uint32_t',
  error: 'const char *',
});
T.cerebro_pending_fn = koffi.proto(
  'int cerebro_pending_fn(void *user, const char *path, int64_t size, int64_t mtime_ns, uint32_t kind, cerebro_status status, const char *message)');

/** Every struct by its C name, for the layout test. */
const STRUCTS = ['cerebro_image_options', 'cerebro_model_options', 'cerebro_encode_options',
                 'cerebro_index_options', 'cerebro_progress', 'cerebro_add_options',
                 'cerebro_add_stats', 'cerebro_search_options', 'cerebro_hit', 'cerebro_index_stats',
                 'cerebro_embedding'];

const CONSTANTS = Object.freeze({
  PREPROCESS: { exact: 0, fast: 1 },
  PRECISION: { auto: 0, fp32: 1, bf16: 2 },
  INDEX_CREATE: 0x1, INDEX_READONLY: 0x2,
  ADD_NO_RECURSE: 0x1, ADD_HIDDEN: 0x2, ADD_FOLLOW_SYMLINKS: 0x4, ADD_NO_VIDEO: 0x8,
  ITEM_IMAGE: 0, ITEM_VIDEO_FRAME: 1,
  EMBEDDING_VERSION: 1,
  MAX_K: 10000,
});

// ---- functions ---------------------------------------------------------------

const PROTOTYPES = [
  'unsigned int cerebro_version_number(void)',
  'const char *cerebro_version_string(void)',
  'const char *cerebro_status_string(cerebro_status status)',
  'const char *cerebro_last_error(void)',
  'void cerebro_free(void *ptr)',
  'void cerebro_image_options_init(_Out_ cerebro_image_options *opts)',
  'cerebro_status cerebro_image_load_file(_Out_ cerebro_image **out, const char *path, const cerebro_image_options *opts)',
  'cerebro_status cerebro_video_frame_load(_Out_ cerebro_image **out, const char *path, double timestamp, const cerebro_image_options *opts)',
  'cerebro_status cerebro_image_load_memory(_Out_ cerebro_image **out, const void *data, size_t size, const char *name, const cerebro_image_options *opts)',
  'cerebro_status cerebro_image_from_rgb(_Out_ cerebro_image **out, const uint8_t *rgb, uint32_t width, uint32_t height, size_t stride, const cerebro_image_options *opts)',
  'void cerebro_image_free(cerebro_image *image)',
  'uint32_t cerebro_image_width(const cerebro_image *image)',
  'uint32_t cerebro_image_height(const cerebro_image *image)',
  'const uint8_t *cerebro_image_pixels(const cerebro_image *image)',
  'cerebro_status cerebro_image_resize(_Out_ cerebro_image **out, const cerebro_image *image, uint32_t width, uint32_t height)',
  'cerebro_status cerebro_image_encode_jpeg(const cerebro_image *image, int quality, _Out_ void **data, _Out_ size_t *size)',
  'size_t cerebro_image_tensor_size(const cerebro_image_options *opts)',
  'cerebro_status cerebro_image_preprocess_file(const char *path, const cerebro_image_options *opts, _Out_ float *out)',
  'cerebro_status cerebro_image_preprocess_memory(const void *data, size_t size, const char *name, const cerebro_image_options *opts, _Out_ float *out)',
  'cerebro_status cerebro_image_preprocess(const cerebro_image *image, const cerebro_image_options *opts, _Out_ float *out)',
  'cerebro_status cerebro_tokenizer_open(_Out_ cerebro_tokenizer **out, const char *merges_path)',
  'void cerebro_tokenizer_free(cerebro_tokenizer *tok)',
  'uint32_t cerebro_tokenizer_vocab_size(const cerebro_tokenizer *tok)',
  'cerebro_status cerebro_tokenizer_encode(const cerebro_tokenizer *tok, const uint8_t *text, size_t len, uint32_t context_length, _Out_ int32_t *tokens, size_t capacity, _Out_ size_t *n_tokens)',
  'void cerebro_model_options_init(_Out_ cerebro_model_options *opts)',
  'cerebro_status cerebro_model_open(_Out_ cerebro_model **out, const char *path, const cerebro_model_options *opts)',
  'void cerebro_model_free(cerebro_model *model)',
  'uint32_t cerebro_model_dim(const cerebro_model *model)',
  'const char *cerebro_model_id(const cerebro_model *model)',
  'const char *cerebro_model_name(const cerebro_model *model)',
  'uint32_t cerebro_model_context_length(const cerebro_model *model)',
  'int cerebro_model_precision(const cerebro_model *model)',
  'const char *cerebro_model_config_json(const cerebro_model *model)',
  'cerebro_status cerebro_model_image_options(const cerebro_model *model, _Out_ cerebro_image_options *out)',
  'const cerebro_tokenizer *cerebro_model_tokenizer(const cerebro_model *model)',
  'cerebro_status cerebro_model_encode_text(const cerebro_model *model, const char **texts, size_t n, _Out_ float *out)',
  'cerebro_status cerebro_model_encode_tokens(const cerebro_model *model, const int32_t *tokens, size_t n, size_t length, _Out_ float *out)',
  'cerebro_status cerebro_model_encode_preprocessed(const cerebro_model *model, const float *pixels, size_t n, _Out_ float *out)',
  'void cerebro_encode_options_init(_Out_ cerebro_encode_options *opts)',
  'cerebro_status cerebro_model_encode_image_files(const cerebro_model *model, const char **paths, size_t n, const cerebro_encode_options *opts, _Out_ float *out, _Out_ int32_t *statuses)',
  'cerebro_status cerebro_model_encode_image_memory(const cerebro_model *model, const void *data, size_t size, const cerebro_encode_options *opts, _Out_ float *out)',
  'cerebro_status cerebro_model_encode_image(const cerebro_model *model, const cerebro_image *image, _Out_ float *out)',
  'void cerebro_index_options_init(_Out_ cerebro_index_options *opts)',
  'cerebro_status cerebro_index_open(_Out_ cerebro_index **out, const char *dir, const cerebro_model *model, const cerebro_index_options *opts)',
  'void cerebro_index_free(cerebro_index *index)',
  'void cerebro_add_options_init(_Out_ cerebro_add_options *opts)',
  'cerebro_status cerebro_index_add(cerebro_index *index, const char **paths, size_t n, const cerebro_add_options *opts, _Out_ cerebro_add_stats *stats)',
  'cerebro_status cerebro_index_remove_path(cerebro_index *index, const char *path)',
  'cerebro_status cerebro_index_remove_id(cerebro_index *index, int64_t id)',
  'cerebro_status cerebro_index_remove_many(cerebro_index *index, const char **paths, size_t n_paths, const int64_t *ids, size_t n_ids, _Out_ int32_t *statuses, _Out_ size_t *removed)',
  'void cerebro_search_options_init(_Out_ cerebro_search_options *opts)',
  'cerebro_status cerebro_index_search_text(cerebro_index *index, const char *text, const cerebro_search_options *opts, _Out_ cerebro_results **out)',
  'cerebro_status cerebro_index_search_image_file(cerebro_index *index, const char *path, const cerebro_search_options *opts, _Out_ cerebro_results **out)',
  'cerebro_status cerebro_index_search_image_memory(cerebro_index *index, const void *data, size_t size, const cerebro_search_options *opts, _Out_ cerebro_results **out)',
  'cerebro_status cerebro_index_search_vector(cerebro_index *index, const float *vector, const cerebro_search_options *opts, _Out_ cerebro_results **out)',
  'cerebro_status cerebro_index_search_id(cerebro_index *index, int64_t id, const cerebro_search_options *opts, _Out_ cerebro_results **out)',
  'cerebro_status cerebro_index_get(cerebro_index *index, int64_t id, _Out_ cerebro_results **out)',
  'cerebro_status cerebro_index_get_vector(cerebro_index *index, int64_t id, _Out_ float *out)',
  'size_t cerebro_results_count(const cerebro_results *results)',
  'cerebro_status cerebro_results_get(const cerebro_results *results, size_t i, _Out_ cerebro_hit *hit)',
  'float cerebro_results_relevance(const cerebro_results *results, size_t i)',
  'void cerebro_results_free(cerebro_results *results)',
  'cerebro_status cerebro_index_stats_get(cerebro_index *index, _Inout_ cerebro_index_stats *out)',
  'cerebro_status cerebro_index_refresh(cerebro_index *index, _Out_ int *changed)',
  'cerebro_status cerebro_index_pending(cerebro_index *index, const char **paths, size_t n, uint32_t flags, cerebro_pending_fn *fn, void *user, _Out_ uint64_t *unchanged)',
  'cerebro_status cerebro_index_pending_opts(cerebro_index *index, const char **paths, size_t n, const cerebro_add_options *opts, cerebro_pending_fn *fn, void *user, _Out_ uint64_t *unchanged)',
  'cerebro_status cerebro_index_add_embeddings(cerebro_index *index, const char *model_id, uint32_t dim, const cerebro_embedding *items, size_t n, _Out_ cerebro_add_stats *stats)',
  'cerebro_status cerebro_index_merge(cerebro_index *index, const char **dirs, size_t n, _Out_ cerebro_add_stats *stats)',
];

/** Loads the library once per thread (main thread or worker) and binds the
 *  prototypes. `explicit`: a path already resolved by the main thread. */
let loaded = null;
function load(explicit) {
  if (loaded) return loaded;
  const { lib, name } = open(explicit);
  const fn = {};
  for (const proto of PROTOTYPES) {
    const f = lib.func(proto);
    fn[f.name] = f;
  }
  loaded = { fn, name, koffi };
  return loaded;
}

/** Throws the CerebroError for a failed status. Must run on the thread that
 *  made the call, before another libcerebro call: the detail is thread-local. */
function check(fn, status) {
  if (status !== Status.OK) throw new CerebroError(fn.cerebro_last_error(), status);
}

module.exports = { VERSION, T, STRUCTS, CONSTANTS, PROTOTYPES, load, check, koffi };
