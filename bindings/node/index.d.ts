// TypeScript definitions for the cerebro Node.js bindings (index.js).

/** cerebro_status values: fixed forever by the C header. */
export declare const Status: Readonly<{
  OK: 0; E_INVALID: -1; E_NOMEM: -2; E_IO: -3; E_FORMAT: -4; E_CORRUPT: -5; E_LIMIT: -6;
  E_UNSUPPORTED: -7; E_MISMATCH: -8; E_NOT_FOUND: -9; E_CANCELLED: -10; E_MODEL: -11;
  E_STORE: -12; E_INTERNAL: -13;
}>;

/** "CEREBRO_E_NOT_FOUND" for -9, and so on. */
export declare function statusCode(status: number): string;

/** A failed libcerebro call; message is the library's detail. */
export declare class CerebroError extends Error {
  constructor(message: string, status: number);
  readonly status: number;
  readonly code: string;
}

export type PreprocessMode = 'exact' | 'fast';

export interface ModelOptions {
  /** Intra-op threads; 0 or undefined: all online CPUs. */
  threads?: number;
  /** BPE merges for OpenAI JIT checkpoints without their own. */
  vocab?: string | null;
  precision?: 'auto' | 'fp32' | 'bf16';
}

export interface ImageError {
  index: number;
  path: string;
  status: number;
  code: string;
  message: string;
}

export interface EncodeImagesOptions {
  mode?: PreprocessMode;
  batchSize?: number;
  /** Decode threads; 0: all online CPUs. */
  workers?: number;
  flat?: boolean;
  /** Also return each file's width and height (sizes) and SHA-256 (hashes). */
  metadata?: boolean;
}

export declare class Model {
  constructor(path: string, options?: ModelOptions);
  readonly path: string;
  readonly dim: number;
  readonly id: string;
  readonly name: string;
  readonly contextLength: number;
  /** The precision the model runs in ("auto" resolved at load). */
  readonly precision: 'fp32' | 'bf16';
  readonly imageSize: number;
  readonly config: Record<string, unknown>;
  readonly closed: boolean;
  tokenize(text: string | Uint8Array, options?: { truncate?: boolean }): number[];
  encodeText(texts: string[], options?: { flat?: false }): Float32Array[];
  encodeText(texts: string[], options: { flat: true }): Float32Array;
  encodeTokens(tokens: ArrayLike<number>[], options?: { flat?: false }): Float32Array[];
  encodeTokens(tokens: ArrayLike<number>[], options: { flat: true }): Float32Array;
  /** An image file or encoded bytes in any format libcerebro reads (JPEG, PNG, WebP, GIF, TIFF,
   *  BMP, HEIC/AVIF, JPEG XL, camera RAW; told by the bytes, not the name). */
  preprocess(image: string | Uint8Array, options?: { mode?: PreprocessMode }): Float32Array;
  encodeImages(paths: string[], options?: EncodeImagesOptions & { flat?: false }):
    Promise<{ vectors: Float32Array[]; errors: ImageError[]; sizes?: Uint32Array; hashes?: Uint8Array }>;
  encodeImages(paths: string[], options: EncodeImagesOptions & { flat: true }):
    Promise<{ vectors: Float32Array; errors: ImageError[]; sizes?: Uint32Array; hashes?: Uint8Array }>;
  close(): void;
}

export interface IndexOptions {
  /** FAISS factory string; null: chosen from the collection size. */
  factory?: string | null;
  create?: boolean;
  readonly?: boolean;
  memoryBudget?: number;
  /** recall@10 an approximate structure is tuned to, in (0, 1]; 0: the store's (0.95 new). */
  recallTarget?: number;
}

export interface Progress {
  done: number;
  total: number;
  added: number;
  skipped: number;
  failed: number;
  path: string;
  status: number;
  code: string;
  message: string | null;
  /** An interim report while `path`, a video, decodes (at least twice a second);
   *  `done` does not count it yet. Returning true cancels at once. */
  partial: boolean;
}

export interface AddOptions {
  /** Return true (or a promise of true) to cancel. */
  progress?: ((p: Progress) => boolean | void | Promise<boolean | void>) | null;
  recurse?: boolean;
  hidden?: boolean;
  followSymlinks?: boolean;
  video?: boolean;
  /** Videos: seconds between kept frames (default 10). */
  frameInterval?: number;
  /** Videos: at most this many frames per video (default 500). */
  maxFrames?: number;
  /** Videos: drop a frame whose cosine to the last kept one is above this
   *  (default 0.98; 1 keeps every frame). */
  dedupThreshold?: number;
  /** fnmatch patterns of files and folders to leave out: a name at any depth
   *  ('Screenshots', '*.tmp') or, with a '/', a path below the folder given
   *  ('2019/raw'); what an earlier run indexed there is removed. */
  exclude?: string | string[];
  mode?: PreprocessMode;
  batchSize?: number;
  commitEvery?: number;
  workers?: number;
}

export interface AddStats {
  added: number; updated: number; skipped: number; removed: number; failed: number; frames: number;
}

export interface Hit {
  id: number | bigint;
  score: number;
  path: string;
  width: number;
  height: number;
  /** Seconds into a video; null for still images. */
  timestamp: number | null;
  kind: 'image' | 'video-frame';
  /** Standard score of the hit's score against the query's scores over the store, adjusted
   *  for the store's size (comparable across queries and stores; cerebro_results_relevance in
   *  cerebro.h); NaN when the store has fewer than 50 items, and for get(). */
  relevance: number;
}

export interface SearchOptions {
  k?: number;
  prefix?: string | null;
  /** Drop hits whose relevance is below this; null / absent: defaultMinRelevance(); 0 keeps
   *  every hit. */
  minRelevance?: number | null;
}

/** A string is text; bytes are an encoded image (any format libcerebro reads); a Float32Array or
 *  number[] is a vector. */
export type Query = string | Uint8Array | ArrayBuffer | Float32Array | number[] |
  { text: string } | { image: string } | { data: Uint8Array | ArrayBuffer } |
  { vector: Float32Array | number[] };

export interface IndexStats {
  dim: number;
  count: number;
  files: number;
  failed: number;
  memoryBytes: number;
  recallAt10: number;
  structure: string;
  modelId: string;
}

export interface PendingFile {
  path: string;
  size: number;
  mtimeNs: bigint;
  kind: 'image' | 'video-frame';
}

export interface Pending {
  files: PendingFile[];
  errors: { path: string; status: number; code: string; message: string }[];
  unchanged: number;
}

/** One precomputed item for Index.addEmbeddings(). */
export interface Embedding {
  path: string;
  size: number;
  mtimeNs: number | bigint;
  /** SHA-256 of the file's bytes (32 bytes), or omitted. */
  hash?: ArrayLike<number>;
  width?: number;
  height?: number;
  kind?: 'image' | 'video-frame';
  /** Seconds into a video (video frames). */
  timestamp?: number | null;
  /** A failed file: its status (negative) and message; its vector row is ignored. */
  status?: number;
  error?: string | null;
}

export declare class Index {
  constructor(dir: string, model: Model, options?: IndexOptions);
  static open(dir: string, model: Model, options?: IndexOptions): Promise<Index>;
  readonly dir: string;
  readonly model: Model;
  readonly closed: boolean;
  add(paths: string | string[], options?: AddOptions): Promise<AddStats>;
  pending(paths: string | string[], options?: Pick<AddOptions, 'recurse' | 'hidden' | 'followSymlinks' | 'video' | 'exclude'>):
    Promise<Pending>;
  addEmbeddings(items: Embedding[], vectors: Float32Array | number[], options?: { modelId?: string }):
    Promise<AddStats>;
  merge(dirs: string | string[]): Promise<AddStats>;
  remove(item: string | number | bigint): Promise<void>;
  /** In one committed step; resolves to the items not in the index. */
  remove(items: Array<string | number | bigint>): Promise<Array<string | number | bigint>>;
  search(query: Query, options?: SearchOptions): Promise<Hit[]>;
  similar(id: number | bigint, options?: SearchOptions): Promise<Hit[]>;
  get(id: number | bigint): Promise<Hit>;
  vector(id: number | bigint): Promise<Float32Array>;
  stats(): Promise<IndexStats>;
  /** Read-only index: take up what another process committed; true when the state moved. */
  refresh(): Promise<boolean>;
  close(): Promise<void>;
}

export declare function libraryVersion(): string;
/** The library's default cutoff of search() and similar() (CEREBRO_MIN_RELEVANCE_DEFAULT). */
export declare function defaultMinRelevance(): number;
export declare function libraryPath(): string;
export declare const bindingsVersion: string;
