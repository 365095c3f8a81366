'use strict';
// Index: a durable store with k-NN search. Every operation runs in a worker
// thread and returns a promise; searches may run concurrently.

const { Handle, HANDLE } = require('./handle');
const { Model } = require('./model');
const ops = require('./ops');
const { pool } = require('./pool');

const OPEN = Symbol('open');

function modelHandle(model) {
  if (!(model instanceof Model)) throw new TypeError('model: expected a cerebro Model');
  return model[HANDLE];
}

/** A query as ops.search takes it. */
function query(q) {
  if (typeof q === 'string') return { text: q };
  if (q instanceof Float32Array || Array.isArray(q)) return { vector: q };
  if (q instanceof Uint8Array || q instanceof ArrayBuffer) return { data: q };
  if (q && typeof q === 'object') {
    const keys = Object.keys(q).filter((k) => q[k] !== undefined);
    if (keys.length === 1 && ['text', 'image', 'data', 'vector'].includes(keys[0])) return q;
  }
  throw new TypeError('query: expected text (string), image bytes (Uint8Array), a vector ' +
                      '(Float32Array), or one of {text}, {image: path}, {data}, {vector}');
}

class Index {
  #h;

  /** Opens (or creates) the index directory synchronously; Index.open() is
   *  the non-blocking form. options: {factory, create, readonly, memoryBudget, recallTarget} */
  constructor(dir, model, options = {}) {
    const mh = modelHandle(model);
    const ptr = options[OPEN] !== undefined ? options[OPEN]
      : mh.use((m) => ops.indexOpen(dir, m, options));
    this.#h = new Handle(this, ptr, (p) => ops.fn().cerebro_index_free(p), 'Index', [mh]);
    this.model = model;
    this.dir = dir;
  }

  static async open(dir, model, options = {}) {
    const mh = modelHandle(model);
    const ptr = await mh.use((m) => pool.run('indexOpen', [dir, m, options]));
    return new Index(dir, model, { ...options, [OPEN]: ptr });
  }

  get closed() { return this.#h.closing; }

  #run(op, args, onProgress) {
    return this.#h.use((ix) => pool.run(op, [ix, ...args], onProgress));
  }

  /** Adds files and folders incrementally. options.progress(p) is called
   *  after each file; returning true (or a promise of true) cancels, and the
   *  promise rejects with CEREBRO_E_CANCELLED; a throwing callback cancels
   *  and rejects with its error. options.exclude: fnmatch patterns of files
   *  and folders to leave out (a name at any depth, or with a '/' a path below
   *  the folder given); what an earlier run indexed there is removed.
   *  Resolves to {added, updated, skipped, removed, failed, frames}. */
  async add(paths, options = {}) {
    const { progress = null, ...rest } = options;
    const list = Array.isArray(paths) ? paths : [paths];
    return this.#run('indexAdd', [list, rest], progress);
  }

  /** What add(paths, options) would encode now: the files found with add's
   *  rules less those the store has unchanged. Resolves to {files: [{path,
   *  size, mtimeNs (BigInt), kind}], errors: [{path, status, code, message}],
   *  unchanged}. Nothing is written. */
  async pending(paths, options = {}) {
    return this.#run('indexPending', [Array.isArray(paths) ? paths : [paths], options]);
  }

  /** Stores precomputed vectors (vectors: items.length * dim floats, one row
   *  per item) with their files' metadata in one transaction: items [{path,
   *  size, mtimeNs, hash (32 bytes), width, height, kind, timestamp, status,
   *  error}]; the same path twice is the frames of a video; a stored path is
   *  replaced. modelId (default this index's model) and the dimension must
   *  be the store's, else CEREBRO_E_MISMATCH. */
  async addEmbeddings(items, vectors, { modelId = this.model.id } = {}) {
    return this.#run('indexAddEmbeddings', [modelId, this.model.dim, items, vectors]);
  }

  /** Copies other stores of the same model into this one (newer mtime wins
   *  on a path in both); another model's store rejects with
   *  CEREBRO_E_MISMATCH before anything is written. */
  async merge(dirs) {
    return this.#run('indexMerge', [Array.isArray(dirs) ? dirs : [dirs]]);
  }

  /** Removes an item by id (number / bigint) or a file by path. An array of
   *  them is removed in one committed step (one rewrite of the search
   *  structure, not one per item) and resolves to those that were not in the
   *  index ([] when all were); it rejects with CEREBRO_E_NOT_FOUND only when
   *  none was. */
  async remove(item) {
    return this.#run('indexRemove', [item]);
  }

  /** Hits [{id, score, path, width, height, timestamp, kind, relevance}] best
   *  first. minRelevance: drop hits whose relevance is below it (null: the
   *  library's default, defaultMinRelevance(); 0 keeps every hit). */
  async search(q, { k = 10, prefix = null, minRelevance = null } = {}) {
    return this.#run('search', [this.model.dim, query(q), { k, prefix, minRelevance }]);
  }

  /** Neighbours of an indexed item, itself excluded; minRelevance as in search(). */
  async similar(id, { k = 10, prefix = null, minRelevance = null } = {}) {
    return this.#run('search', [this.model.dim, { id }, { k, prefix, minRelevance }]);
  }

  async get(id) {
    return this.#run('get', [id]);
  }

  async vector(id) {
    return this.#run('vector', [this.model.dim, id]);
  }

  async stats() {
    return this.#run('stats', []);
  }

  /** Read-only index: take up what another process committed (once its add()
   *  returned). Resolves true when the searched state moved. */
  async refresh() {
    return this.#run('refresh', []);
  }

  /** Closes the index once operations in flight end; resolves when closed. */
  async close() {
    return this.#h.close();
  }
}

module.exports = { Index };
