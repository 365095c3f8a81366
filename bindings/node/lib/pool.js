'use strict';
// Worker threads for the blocking calls (encodeImages, Index operations).
//
// Why not koffi's .async calls: they run on libuv's thread pool, and
// cerebro_last_error() is thread-local, so the message of a failed async
// call could never be read (a later call may land on another pool thread).
// A worker thread makes the same koffi calls synchronously, reads the
// detail on the failing thread, and leaves the main event loop free.

const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { CerebroError } = require('./errors');
const ops = require('./ops');
const { CONTINUE, CANCEL } = ops.ANSWER;

class Pool {
  constructor(size) {
    this.size = size;
    this.workers = new Set();
    this.idle = [];
    this.queue = [];
    this.nextId = 1;
  }

  /** Runs ops[op](...args) in a worker. onProgress (indexAdd only) is
   *  called on this thread; a true result (or a promise of one) cancels. */
  run(op, args, onProgress = null) {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, op, args, onProgress, resolve, reject });
      this.dispatch();
    });
  }

  dispatch() {
    while (this.queue.length) {
      let w = this.idle.pop();
      if (!w) {
        if (this.workers.size >= this.size) return;
        w = this.spawn();
      }
      const job = this.queue.shift();
      w.job = job;
      w.ref();
      const msg = { id: job.id, op: job.op, args: job.args };
      if (job.onProgress) {
        msg.flag = new SharedArrayBuffer(4);
        job.answer = new Int32Array(msg.flag);
      }
      try {
        w.postMessage(msg);
      } catch (e) { // e.g. an option that cannot be cloned: the worker stays free
        w.job = null;
        w.unref();
        this.idle.push(w);
        job.reject(e);
      }
    }
  }

  spawn() {
    const w = new Worker(path.join(__dirname, 'worker.js'),
                         { workerData: { library: ops.loadedPath() } });
    this.workers.add(w);
    w.on('message', (msg) => this.onMessage(w, msg));
    w.on('error', (err) => this.onExit(w, err));
    w.on('exit', (code) => this.onExit(w, new Error(`cerebro worker exited with code ${code}`)));
    return w;
  }

  onMessage(w, msg) {
    const job = w.job;
    if (!job || msg.id !== job.id) return;
    if (msg.progress) {
      this.progress(job, msg.progress);
      return;
    }
    w.job = null;
    w.unref();
    this.idle.push(w);
    if (job.callbackError) job.reject(job.callbackError);
    else if (msg.error) job.reject(rebuild(msg.error));
    else job.resolve(msg.result);
    this.dispatch();
  }

  progress(job, p) {
    const answer = (value) => {
      Atomics.store(job.answer, 0, value);
      Atomics.notify(job.answer, 0);
    };
    Promise.resolve()
      .then(() => job.onProgress(p))
      .then((cancel) => answer(cancel === true ? CANCEL : CONTINUE),
            (err) => { job.callbackError = err; answer(CANCEL); });
  }

  onExit(w, err) {
    if (!this.workers.delete(w)) return;
    this.idle = this.idle.filter((x) => x !== w);
    if (w.job) w.job.reject(err);
    w.job = null;
    this.dispatch();
  }
}

function rebuild({ name, message, status }) {
  if (status !== undefined) return new CerebroError(message, status);
  const Ctor = { TypeError, RangeError }[name] || Error;
  return new Ctor(message);
}

const pool = new Pool(Math.max(1, Math.min(4, os.availableParallelism ? os.availableParallelism()
                                                                        : os.cpus().length)));

module.exports = { pool, Pool };
