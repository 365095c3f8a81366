'use strict';
// The synchronous operations behind Model and Index, on raw handles
// (BigInt pointers). The main thread runs the quick ones directly; the
// blocking ones run in a worker thread (lib/pool.js) so that the event loop
// stays free and cerebro_last_error() is read on the thread that failed.

const { CerebroError, Status, statusCode } = require('./errors');
const { CONSTANTS, T, check, koffi, load } = require('./ffi');

/** A worker's progress callback waits for one of these from the main thread. */
const ANSWER = Object.freeze({ CONTINUE: 1, CANCEL: 2 });

let L = null;
let libraryPath = null;

/** The bound functions, loading the library on first use (a worker thread
 *  loads the exact file the main thread found: see useLibrary). */
function fn() {
  if (!L) {
    const loaded = load(libraryPath);
    L = loaded.fn;
    libraryPath = loaded.name;
  }
  return L;
}

function useLibrary(path) {
  libraryPath = path;
}

function loadedPath() {
  fn();
  return libraryPath;
}

function invalid(message) {
  return new CerebroError(message, Status.E_INVALID);
}

function noNul(s, what) {
  if (typeof s !== 'string') throw new TypeError(`${what}: expected a string, got ${typeof s}`);
  if (s.includes('\0')) throw invalid(`${what} contains a NUL character`);
  return s;
}

function mode(name = 'fast') {
  const m = CONSTANTS.PREPROCESS[name];
  if (m === undefined) throw invalid(`mode ${JSON.stringify(name)}: expected "exact" or "fast"`);
  return m;
}

// ---- model -------------------------------------------------------------------

function modelOpen(path, { threads = 0, vocab = null, precision = 'auto' } = {}) {
  const f = fn();
  const opts = {};
  f.cerebro_model_options_init(opts);
  opts.n_threads = threads || 0;
  opts.precision = CONSTANTS.PRECISION[precision];
  if (opts.precision === undefined) {
    throw invalid(`precision ${JSON.stringify(precision)}: expected "auto", "fp32" or "bf16"`);
  }
  opts.vocab_path = vocab === null || vocab === undefined ? null : noNul(vocab, 'vocab');
  const out = [null];
  check(f, f.cerebro_model_open(out, noNul(path, 'path'), opts));
  return out[0];
}

function modelInfo(model) {
  const f = fn();
  const iopts = {};
  check(f, f.cerebro_model_image_options(model, iopts));
  return {
    dim: f.cerebro_model_dim(model),
    id: f.cerebro_model_id(model),
    name: f.cerebro_model_name(model),
    contextLength: f.cerebro_model_context_length(model),
    precision: Object.keys(CONSTANTS.PRECISION).find(
      (k) => CONSTANTS.PRECISION[k] === f.cerebro_model_precision(model)),
    imageSize: iopts.size,
    config: JSON.parse(f.cerebro_model_config_json(model)),
  };
}

function tokenize(model, text, context) {
  const f = fn();
  const raw = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
  let cap = context ? Math.min(context, raw.length + 2) : raw.length + 2;
  const tok = f.cerebro_model_tokenizer(model);
  for (;;) {
    const ids = new Int32Array(Math.max(cap, 1));
    const n = [0];
    const st = f.cerebro_tokenizer_encode(tok, raw, raw.length, context, ids, cap, n);
    if (st === Status.E_LIMIT && n[0] > cap) { // cannot happen with length + 2; stay correct anyway
      cap = n[0];
      continue;
    }
    check(f, st);
    return Array.from(ids.subarray(0, Math.min(n[0], cap)));
  }
}

function encodeText(model, dim, texts) {
  const f = fn();
  texts.forEach((t, i) => noNul(t, `texts[${i}]`));
  const out = new Float32Array(texts.length * dim);
  if (texts.length) check(f, f.cerebro_model_encode_text(model, texts, texts.length, out));
  return out;
}

function encodeTokens(model, dim, rows) {
  const f = fn();
  const length = rows.length ? rows[0].length : 0;
  if (rows.some((r) => r.length !== length)) throw invalid('tokens: rows differ in length');
  const ids = Int32Array.from(rows.flatMap((r) => Array.from(r)));
  const out = new Float32Array(rows.length * dim);
  if (rows.length) check(f, f.cerebro_model_encode_tokens(model, ids, rows.length, length, out));
  return out;
}

function imageOptions(model, m) {
  const f = fn();
  const opts = {};
  check(f, f.cerebro_model_image_options(model, opts));
  opts.mode = mode(m);
  return opts;
}

function preprocess(model, image, m) {
  const f = fn();
  const opts = imageOptions(model, m);
  const out = new Float32Array(f.cerebro_image_tensor_size(opts));
  if (typeof image === 'string') {
    check(f, f.cerebro_image_preprocess_file(noNul(image, 'path'), opts, out));
  } else {
    const data = asBytes(image);
    check(f, f.cerebro_image_preprocess_memory(data, data.length, 'image buffer', opts, out));
  }
  return out;
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('expected a path (string) or encoded image bytes (Uint8Array, Buffer)');
}

function encodeImages(model, dim, paths, { mode: m = 'fast', batchSize = 0, workers = 0,
                                           metadata = false } = {}) {
  const f = fn();
  paths.forEach((p, i) => noNul(p, `paths[${i}]`));
  const out = new Float32Array(paths.length * dim);
  const statuses = new Int32Array(paths.length);
  const messages = new Map();
  if (!paths.length) return { vectors: out, errors: [] };
  const opts = {};
  f.cerebro_encode_options_init(opts);
  opts.mode = mode(m);
  opts.batch_size = batchSize;
  opts.n_workers = workers;
  // Called on this thread (the one making the call), so it runs synchronously.
  const onError = koffi.register((user, index, status, message) => {
    messages.set(Number(index), message || '');
  }, koffi.pointer(T.cerebro_item_error_fn));
  opts.on_error = onError;
  // With metadata: each file's width and height and the SHA-256 of its bytes.
  const sizes = metadata ? new Uint32Array(paths.length * 2) : null;
  const hashes = metadata ? new Uint8Array(paths.length * 32) : null;
  opts.sizes = sizes;
  opts.hashes = hashes;
  try {
    check(f, f.cerebro_model_encode_image_files(model, paths, paths.length, opts, out, statuses));
  } finally {
    koffi.unregister(onError);
  }
  const errors = [];
  statuses.forEach((st, i) => {
    if (st !== Status.OK) {
      errors.push({ index: i, path: paths[i], status: st, code: statusCode(st),
                    message: messages.get(i) || '' });
    }
  });
  return metadata ? { vectors: out, errors, sizes, hashes } : { vectors: out, errors };
}

// ---- index -------------------------------------------------------------------

function indexOpen(dir, model, { factory = null, create = true, readonly = false, memoryBudget = 0,
                                 recallTarget = 0 } = {}) {
  const f = fn();
  const opts = {};
  f.cerebro_index_options_init(opts);
  opts.flags = (create ? CONSTANTS.INDEX_CREATE : 0) | (readonly ? CONSTANTS.INDEX_READONLY : 0);
  opts.factory = factory === null || factory === undefined ? null : noNul(factory, 'factory');
  opts.memory_budget = memoryBudget;
  opts.recall_target = recallTarget;
  const out = [null];
  check(f, f.cerebro_index_open(out, noNul(dir, 'dir'), model, opts));
  return out[0];
}

/** onProgress(progress) runs synchronously on this thread; true cancels. */
function indexAdd(index, paths, options, onProgress) {
  const f = fn();
  const o = options || {};
  paths.forEach((p, i) => noNul(p, `paths[${i}]`));
  const opts = walkOptions(f, o);
  opts.mode = mode(o.mode);
  opts.batch_size = o.batchSize || 0;
  opts.commit_every = o.commitEvery || 0;
  opts.n_workers = o.workers || 0;
  opts.frame_interval = o.frameInterval || 0;
  opts.max_frames = o.maxFrames || 0;
  opts.dedup_threshold = o.dedupThreshold || 0;
  let cb = null;
  if (onProgress) {
    cb = koffi.register((user, ptr) => {
      const p = koffi.decode(ptr, T.cerebro_progress);
      return onProgress({
        done: Number(p.done), total: Number(p.total), added: Number(p.added),
        skipped: Number(p.skipped), failed: Number(p.failed), path: p.path || '',
        status: p.status, code: statusCode(p.status), message: p.message || null,
        partial: p.partial !== 0,
      }) ? 1 : 0;
    }, koffi.pointer(T.cerebro_progress_fn));
    opts.progress = cb;
  }
  const stats = {};
  try {
    check(f, f.cerebro_index_add(index, paths, paths.length, opts, stats));
  } finally {
    if (cb) koffi.unregister(cb);
  }
  return addStats(stats);
}

/** Add options with the walk's rules of `o`: flags and exclude patterns. */
function walkOptions(f, o) {
  const opts = {};
  f.cerebro_add_options_init(opts);
  opts.flags = addFlags(o);
  const exclude = o.exclude == null ? [] : Array.isArray(o.exclude) ? o.exclude : [o.exclude];
  exclude.forEach((p, i) => noNul(p, `exclude[${i}]`));
  opts.exclude = exclude.length ? exclude : null;
  opts.n_exclude = exclude.length;
  return opts;
}

function addFlags(o) {
  return (o.recurse === false ? CONSTANTS.ADD_NO_RECURSE : 0) |
         (o.hidden ? CONSTANTS.ADD_HIDDEN : 0) |
         (o.followSymlinks ? CONSTANTS.ADD_FOLLOW_SYMLINKS : 0) |
         (o.video === false ? CONSTANTS.ADD_NO_VIDEO : 0);
}

function addStats(stats) {
  return { added: Number(stats.added), updated: Number(stats.updated), skipped: Number(stats.skipped),
           removed: Number(stats.removed), failed: Number(stats.failed), frames: Number(stats.frames) };
}

/** What indexAdd would encode now: {files: [{path, size, mtimeNs, kind}],
 *  errors: [{path, status, code, message}], unchanged}. */
function indexPending(index, paths, options) {
  const f = fn();
  paths.forEach((p, i) => noNul(p, `paths[${i}]`));
  const files = [];
  const errors = [];
  const cb = koffi.register((user, path, size, mtimeNs, kind, status, message) => {
    if (status !== Status.OK) {
      errors.push({ path, status, code: statusCode(status), message: message || '' });
    } else {
      files.push({ path, size: Number(size), mtimeNs: BigInt(mtimeNs),
                   kind: kind === CONSTANTS.ITEM_VIDEO_FRAME ? 'video-frame' : 'image' });
    }
    return 0;
  }, koffi.pointer(T.cerebro_pending_fn));
  const unchanged = [0];
  try {
    check(f, f.cerebro_index_pending_opts(index, paths, paths.length, walkOptions(f, options || {}), cb,
                                          null, unchanged));
  } finally {
    koffi.unregister(cb);
  }
  return { files, errors, unchanged: Number(unchanged[0]) };
}

/** items: [{path, size, mtimeNs, hash?, width?, height?, kind?, timestamp?,
 *  status?, error?}], vectors: Float32Array of items.length * dim (a failed
 *  item's row is ignored). */
function indexAddEmbeddings(index, modelId, dim, items, vectors) {
  const f = fn();
  const v = Float32Array.from(vectors);
  if (v.length !== items.length * dim) {
    throw invalid(`vectors: expected ${items.length} x ${dim} floats, got ${v.length}`);
  }
  const raw = items.map((it, i) => {
    const hash = it.hash ? Array.from(it.hash) : new Array(32).fill(0);
    if (hash.length !== 32) throw invalid(`items[${i}].hash: expected 32 bytes, got ${hash.length}`);
    const status = it.status || 0;
    return {
      version: CONSTANTS.EMBEDDING_VERSION,
      kind: it.kind === 'video-frame' ? CONSTANTS.ITEM_VIDEO_FRAME : CONSTANTS.ITEM_IMAGE,
      path: noNul(it.path, `items[${i}].path`),
      vector: status === 0 ? v.subarray(i * dim, (i + 1) * dim) : null,
      size: it.size, mtime_ns: it.mtimeNs, hash, width: it.width || 0, height: it.height || 0,
      timestamp: it.timestamp === undefined || it.timestamp === null ? -1 : it.timestamp,
      status, reserved: 0, error: it.error || null,
    };
  });
  const stats = {};
  check(f, f.cerebro_index_add_embeddings(index, noNul(modelId, 'modelId'), dim, raw, raw.length, stats));
  return addStats(stats);
}

function indexMerge(index, dirs) {
  const f = fn();
  dirs.forEach((d, i) => noNul(d, `dirs[${i}]`));
  const stats = {};
  check(f, f.cerebro_index_merge(index, dirs, dirs.length, stats));
  return addStats(stats);
}

const isId = (item) => typeof item === 'number' || typeof item === 'bigint';

/** An array: every item in one committed step; resolves to those not in the
 *  index, in the order given. */
function indexRemoveMany(f, index, items) {
  // the C call takes the paths, then the ids: `order` maps its statuses back
  const keys = [...items.keys()];
  const order = keys.filter((k) => !isId(items[k])).concat(keys.filter((k) => isId(items[k])));
  const paths = order.filter((k) => !isId(items[k])).map((k) => noNul(items[k], `items[${k}]`));
  const ids = BigInt64Array.from(order.filter((k) => isId(items[k])).map((k) => BigInt(items[k])));
  const statuses = new Int32Array(Math.max(items.length, 1));
  check(f, f.cerebro_index_remove_many(index, paths, paths.length, ids, ids.length, statuses, null));
  return order.filter((k, i) => statuses[i] !== Status.OK).sort((a, b) => a - b).map((k) => items[k]);
}

function indexRemove(index, item) {
  const f = fn();
  if (Array.isArray(item)) return indexRemoveMany(f, index, item);
  if (isId(item)) {
    check(f, f.cerebro_index_remove_id(index, item));
  } else {
    check(f, f.cerebro_index_remove_path(index, noNul(item, 'path')));
  }
}

/** minRelevance: null / undefined = the library's default, 0 or less keeps every hit. */
function searchOptions(k = 10, prefix = null, minRelevance = null) {
  const f = fn();
  if (!Number.isInteger(k) || k < 1 || k > CONSTANTS.MAX_K) {
    throw new CerebroError(`k=${k}: must be 1..${CONSTANTS.MAX_K}`, Status.E_LIMIT);
  }
  const opts = {};
  f.cerebro_search_options_init(opts);
  opts.k = k;
  opts.prefix = prefix === null || prefix === undefined ? null : noNul(prefix, 'prefix');
  if (minRelevance !== null && minRelevance !== undefined) {
    if (typeof minRelevance !== 'number' || Number.isNaN(minRelevance)) {
      throw invalid(`minRelevance=${String(minRelevance)}: must be a number`);
    }
    opts.min_relevance = minRelevance;
  }
  return opts;
}

/** The library's default cutoff (CEREBRO_MIN_RELEVANCE_DEFAULT). */
function defaultMinRelevance() {
  const opts = {};
  fn().cerebro_search_options_init(opts);
  return opts.min_relevance;
}

/** query: {text} | {image: path} | {data: Uint8Array} | {vector: Float32Array} | {id} */
function search(index, dim, query, { k = 10, prefix = null, minRelevance = null } = {}) {
  const f = fn();
  const opts = searchOptions(k, prefix, minRelevance);
  const out = [null];
  let st;
  if (query.text !== undefined) {
    st = f.cerebro_index_search_text(index, noNul(query.text, 'text'), opts, out);
  } else if (query.image !== undefined) {
    st = f.cerebro_index_search_image_file(index, noNul(query.image, 'image'), opts, out);
  } else if (query.data !== undefined) {
    const data = asBytes(query.data);
    st = f.cerebro_index_search_image_memory(index, data, data.length, opts, out);
  } else if (query.vector !== undefined) {
    const v = Float32Array.from(query.vector);
    if (v.length !== dim) throw invalid(`vector query: expected ${dim} floats, got ${v.length}`);
    st = f.cerebro_index_search_vector(index, v, opts, out);
  } else if (query.id !== undefined) {
    st = f.cerebro_index_search_id(index, query.id, opts, out);
  } else {
    throw new TypeError('query: expected {text}, {image}, {data}, {vector} or {id}');
  }
  check(f, st);
  return hits(out[0]);
}

function get(index, id) {
  const f = fn();
  const out = [null];
  check(f, f.cerebro_index_get(index, id, out));
  return hits(out[0])[0];
}

function vector(index, dim, id) {
  const f = fn();
  const out = new Float32Array(dim);
  check(f, f.cerebro_index_get_vector(index, id, out));
  return out;
}

function hits(results) {
  const f = fn();
  try {
    const list = [];
    const n = Number(f.cerebro_results_count(results));
    for (let i = 0; i < n; i++) {
      const h = {};
      check(f, f.cerebro_results_get(results, i, h));
      list.push({ id: h.id, score: h.score, path: h.path, width: h.width, height: h.height,
                  timestamp: h.timestamp < 0 ? null : h.timestamp,
                  kind: h.kind === CONSTANTS.ITEM_VIDEO_FRAME ? 'video-frame' : 'image',
                  relevance: f.cerebro_results_relevance(results, i) });
    }
    return list;
  } finally {
    f.cerebro_results_free(results);
  }
}

function stats(index) {
  const f = fn();
  const s = { version: 1 };
  check(f, f.cerebro_index_stats_get(index, s));
  return { dim: s.dim, count: Number(s.count), files: Number(s.files), failed: Number(s.failed),
           memoryBytes: Number(s.memory_bytes), recallAt10: s.recall_at_10, structure: s.structure,
           modelId: s.model_id };
}

function refresh(index) {
  const f = fn();
  const changed = [0];
  check(f, f.cerebro_index_refresh(index, changed));
  return changed[0] !== 0;
}

module.exports = {
  ANSWER, fn, useLibrary, loadedPath, modelOpen, modelInfo, tokenize, encodeText, encodeTokens, preprocess, encodeImages,
  indexOpen, indexAdd, indexPending, indexAddEmbeddings, indexMerge, indexRemove, search, get, vector, stats, refresh,
  defaultMinRelevance,
};
