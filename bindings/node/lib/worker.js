'use strict';
// A worker thread of lib/pool.js: runs blocking libcerebro calls
// synchronously, so the error detail is read on the thread that failed and
// the main event loop stays free. Progress callbacks are forwarded to the
// main thread, which answers through a shared flag (1 go on, 2 cancel).

const { parentPort, workerData } = require('node:worker_threads');
const ops = require('./ops');

ops.useLibrary(workerData.library);

function transferables(result) {
  const list = [];
  const visit = (v) => {
    if (ArrayBuffer.isView(v)) list.push(v.buffer);
    else if (v && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(result);
  return list;
}

parentPort.on('message', ({ id, op, args, flag }) => {
  try {
    if (op === 'indexAdd' && flag) {
      const answer = new Int32Array(flag);
      args.push((progress) => {
        parentPort.postMessage({ id, progress });
        Atomics.wait(answer, 0, 0);
        return Atomics.exchange(answer, 0, 0) === ops.ANSWER.CANCEL;
      });
    }
    const result = ops[op](...args);
    parentPort.postMessage({ id, result }, transferables(result));
  } catch (e) {
    parentPort.postMessage({ id, error: { name: e.name, message: e.message, status: e.status } });
  }
});
