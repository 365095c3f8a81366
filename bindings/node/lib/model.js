'use strict';
// Model: a loaded bundle. Quick calls (tokenize, encodeText, preprocess) are
// synchronous; encodeImages runs in a worker thread and returns a promise.
// One model may serve any number of concurrent calls.

const { Handle, HANDLE } = require('./handle');
const ops = require('./ops');
const { pool } = require('./pool');

/** Rows of a flat [n * dim] buffer as views (no copy). */
function rows(flat, dim) {
  const out = [];
  for (let i = 0; i < flat.length; i += dim) out.push(flat.subarray(i, i + dim));
  return out;
}

function list(value, what) {
  if (!Array.isArray(value)) throw new TypeError(`${what}: expected an array`);
  return value;
}

class Model {
  #h;
  #info;

  /** options: {threads, vocab, precision: "auto" | "fp32" | "bf16"} */
  constructor(path, options = {}) {
    const ptr = ops.modelOpen(path, options);
    this.#h = new Handle(this, ptr, (p) => ops.fn().cerebro_model_free(p), 'Model');
    this.#info = ops.modelInfo(ptr);
    this.path = path;
  }

  get [HANDLE]() { return this.#h; }
  get dim() { return this.#info.dim; }
  get id() { return this.#info.id; }
  get name() { return this.#info.name; }
  get contextLength() { return this.#info.contextLength; }
  /** "fp32" or "bf16": the precision the model runs in ("auto" resolved). */
  get precision() { return this.#info.precision; }
  get imageSize() { return this.#info.imageSize; }
  /** The bundle's cerebro/config.json, parsed. */
  get config() { return this.#info.config; }
  get closed() { return this.#h.closing; }

  /** Token ids, start and end included; truncated to the context (end token
   *  kept) unless {truncate: false}. text: string or UTF-8 bytes. */
  tokenize(text, { truncate = true } = {}) {
    return this.#h.use((m) => ops.tokenize(m, text, truncate ? this.contextLength : 0));
  }

  /** L2-normalised embeddings: one Float32Array per text, or with
   *  {flat: true} one Float32Array of texts.length * dim (row-major). */
  encodeText(texts, { flat = false } = {}) {
    const out = this.#h.use((m) => ops.encodeText(m, this.dim, list(texts, 'texts')));
    return flat ? out : rows(out, this.dim);
  }

  /** Embeddings of token rows of equal length. */
  encodeTokens(tokens, { flat = false } = {}) {
    const out = this.#h.use((m) => ops.encodeTokens(m, this.dim, list(tokens, 'tokens')));
    return flat ? out : rows(out, this.dim);
  }

  /** The model's input tensor (CHW float32, 3 * S * S) for an image file
   *  (string) or encoded image bytes (Uint8Array / Buffer), in any format
   *  libcerebro reads (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/AVIF, JPEG XL,
   *  camera RAW; told by the bytes, not the name). */
  preprocess(image, { mode = 'fast' } = {}) {
    return this.#h.use((m) => ops.preprocess(m, image, mode));
  }

  /** Encodes image files in a worker thread. Resolves to {vectors, errors}:
   *  vectors as encodeText returns them (failed files give zero rows),
   *  errors [{index, path, status, code, message}]. With metadata: also
   *  sizes (Uint32Array: width, height per file, as Index.add stores them)
   *  and hashes (Uint8Array: the SHA-256 of each file's bytes, 32 per file). */
  async encodeImages(paths, { mode = 'fast', batchSize = 0, workers = 0, flat = false,
                              metadata = false } = {}) {
    const out = await this.#h.use((m) => pool.run('encodeImages', [
      m, this.dim, list(paths, 'paths'), { mode, batchSize, workers, metadata }]));
    return { ...out, vectors: flat ? out.vectors : rows(out.vectors, this.dim) };
  }

  /** Frees the model (once every Index using it is closed). Idempotent. */
  close() {
    this.#h.close();
  }
}

module.exports = { Model };
