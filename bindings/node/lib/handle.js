'use strict';
// Ownership of one native handle: freed exactly once, by close() or by the
// garbage collector (FinalizationRegistry), and never while an operation
// uses it. A handle may hold others alive (an Index holds its Model).

const { CerebroError, Status } = require('./errors');

const registry = new FinalizationRegistry((handle) => handle.release());

/** Where Model keeps its Handle, for Index to hold it. */
const HANDLE = Symbol('cerebro.handle');

class Handle {
  constructor(owner, ptr, free, what, holds = []) {
    this.ptr = ptr;
    this.what = what;
    this.users = 0;
    this.closing = false;
    this.free = free;
    this.holds = [];
    for (const h of holds) {
      h.acquire();
      this.holds.push(h);
    }
    this.freed = new Promise((resolve) => { this.resolveFreed = resolve; });
    // The registry holds this Handle, never the owner.
    registry.register(owner, this, this);
  }

  acquire() {
    if (this.closing) throw new CerebroError(`${this.what} is closed`, Status.E_INVALID);
    this.users++;
    return this.ptr;
  }

  drop() {
    this.users--;
    if (this.closing && this.users === 0) this.destroy();
  }

  /** Runs fn(ptr) with the handle alive for its whole (sync or async) run. */
  use(fn) {
    const ptr = this.acquire();
    let result;
    try {
      result = fn(ptr);
    } catch (e) {
      this.drop();
      throw e;
    }
    if (result instanceof Promise) return result.finally(() => this.drop());
    this.drop();
    return result;
  }

  /** Frees now, or once the last operation in flight ends; idempotent.
   *  Returns a promise settled when the handle is freed. */
  close() {
    registry.unregister(this);
    this.release();
    return this.freed;
  }

  release() {
    if (this.closing) return;
    this.closing = true;
    if (this.users === 0) this.destroy();
  }

  destroy() {
    const ptr = this.ptr;
    const holds = this.holds;
    this.ptr = null;
    this.holds = [];
    if (ptr !== null) this.free(ptr);
    for (const h of holds) h.drop();
    this.resolveFreed();
  }
}

module.exports = { Handle, HANDLE };
