'use strict';
// Model against the C library's own results and the PyTorch reference
// outputs of the tiny fixture bundle.

const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, ROOT, fixtures, maxAbsDiff, photos, preprocessTool, tmpdir } = require('./helpers');

const { Model, CerebroError, Status } = require(PACKAGE);

let model;
test.before(() => { model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' }); });
test.after(() => model.close());

function reference(name) {
  const dir = path.join(fixtures(), 'tiny-ref');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')).tensors[name];
  const buf = fs.readFileSync(path.join(dir, meta.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  const data = meta.dtype === 'int64' ? Array.from(new BigInt64Array(ab), Number) : new Float32Array(ab);
  return { data, shape: meta.shape };
}

function normalizedRows(flat, dim) {
  const out = new Float32Array(flat.length);
  for (let i = 0; i < flat.length; i += dim) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += flat[i + j] ** 2;
    for (let j = 0; j < dim; j++) out[i + j] = flat[i + j] / Math.sqrt(ss);
  }
  return out;
}

test('properties come from the bundle', () => {
  assert.equal(model.dim, 64);
  assert.equal(model.dim, model.config.embed_dim);
  assert.equal(model.name, model.config.name);
  assert.equal(model.contextLength, model.config.text.context_length);
  assert.equal(model.imageSize, model.config.image.size);
  assert.match(model.id, /^[0-9a-f]{64}$/);
});

test('tokenize includes start and end and truncates like the model', () => {
  const ids = model.tokenize('a photo');
  assert.equal(ids[0], model.config.text.sot_id);
  assert.equal(ids.at(-1), model.config.text.eot_id);
  assert.equal(ids.length, 4);
  assert.equal(model.tokenize('word '.repeat(100)).length, 77);
  assert.equal(model.tokenize('word '.repeat(100), { truncate: false }).length, 102);
  assert.deepEqual(model.tokenize(Buffer.from('a photo')), ids);
  assert.throws(() => model.tokenize(Buffer.from([0x61, 0x62, 0xff])),
                (e) => e instanceof CerebroError && e.code === 'CEREBRO_E_INVALID' &&
                       /invalid UTF-8 at byte 2/.test(e.message));
});

test('encodeTokens matches PyTorch', () => {
  const tokens = reference('tokens');
  const rows = [];
  for (let i = 0; i < tokens.shape[0]; i++) {
    rows.push(tokens.data.slice(i * tokens.shape[1], (i + 1) * tokens.shape[1]));
  }
  const got = model.encodeTokens(rows, { flat: true });
  const want = normalizedRows(reference('text_embeddings').data, model.dim);
  assert.ok(maxAbsDiff(got, want) < 2e-5, `max diff ${maxAbsDiff(got, want)}`);
});

test('encodeText equals the tokens path', () => {
  const texts = ['a snow leopard on rocks', 'a dog', 'word '.repeat(100), ''];
  const got = model.encodeText(texts);
  assert.equal(got.length, 4);
  const flat = model.encodeText(texts, { flat: true });
  assert.equal(flat.length, 4 * model.dim);
  texts.forEach((text, i) => {
    assert.ok(got[i] instanceof Float32Array && got[i].length === model.dim);
    const viaTokens = model.encodeTokens([model.tokenize(text)])[0];
    assert.ok(maxAbsDiff(got[i], viaTokens) < 1e-5, text);
    assert.ok(maxAbsDiff(got[i], flat.subarray(i * model.dim, (i + 1) * model.dim)) === 0);
  });
  assert.deepEqual(model.encodeText([]), []);
});

for (const mode of ['exact', 'fast']) {
  test(`preprocess (${mode}) equals the cerebro-preprocess example`, (t) => {
    const tool = preprocessTool();
    assert.ok(tool, 'cerebro-preprocess not built (set CEREBRO_PREPROCESS)');
    const out = path.join(tmpdir(t), 'tensors.f32');
    const files = photos();
    execFileSync(tool, ['--size', String(model.imageSize), ...(mode === 'fast' ? ['--fast'] : []),
                        '--out', out, ...files], { stdio: 'ignore' });
    const buf = fs.readFileSync(out);
    const want = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const per = 3 * model.imageSize * model.imageSize;
    files.forEach((file, i) => {
      const expected = want.subarray(i * per, (i + 1) * per);
      assert.deepEqual(model.preprocess(file, { mode }), expected, file);
      assert.deepEqual(model.preprocess(fs.readFileSync(file), { mode }), expected, file);
    });
  });
}

test('encodeImages reports bad files and zeroes their rows', async (t) => {
  const dir = tmpdir(t);
  const [p0, p1] = photos();
  fs.writeFileSync(path.join(dir, 'truncated.jpg'), fs.readFileSync(p0).subarray(0, 2000));
  fs.writeFileSync(path.join(dir, 'notes.jpg'), 'not an image');
  const paths = [p0, path.join(dir, 'missing.jpg'), path.join(dir, 'notes.jpg'), p1,
                 path.join(dir, 'truncated.jpg')];
  const { vectors, errors } = await model.encodeImages(paths);
  assert.deepEqual(errors.map((e) => [e.index, e.code]), [
    [1, 'CEREBRO_E_NOT_FOUND'], [2, 'CEREBRO_E_FORMAT'], [4, 'CEREBRO_E_CORRUPT']]);
  for (const e of errors) {
    assert.equal(e.path, paths[e.index]);
    assert.ok(e.message.includes(paths[e.index]), e.message);
    assert.ok(vectors[e.index].every((v) => v === 0));
  }
  const good = await model.encodeImages([p0, p1]);
  assert.ok(maxAbsDiff(vectors[0], good.vectors[0]) < 1e-5);
  assert.ok(maxAbsDiff(vectors[3], good.vectors[1]) < 1e-5);
});

test('encodeImages leaves the event loop free', async () => {
  let turns = 0;
  let spinning = true;
  const spin = () => { turns++; if (spinning) setImmediate(spin); };
  setImmediate(spin);
  const { errors } = await model.encodeImages(photos(), { mode: 'exact' });
  spinning = false;
  assert.deepEqual(errors, []);
  assert.ok(turns > 0, 'no event-loop turn ran while images were encoded');
});

test('errors carry status, code and the library message', () => {
  const dir = fixtures();
  const cases = [['missing.pt', 'CEREBRO_E_NOT_FOUND'], ['not-an-archive.pt', 'CEREBRO_E_FORMAT'],
                 ['schema-v99.pt', 'CEREBRO_E_UNSUPPORTED'], ['wrong-dim.pt', 'CEREBRO_E_MISMATCH']];
  for (const [name, code] of cases) {
    assert.throws(() => new Model(path.join(dir, name)), (e) =>
      e instanceof CerebroError && e.code === code && e.status === Status[code.slice(8)] &&
      e.message.includes(name));
  }
  assert.throws(() => model.preprocess(path.join(dir, 'nowhere.jpg')),
                (e) => e.code === 'CEREBRO_E_NOT_FOUND' && e.message.includes('nowhere.jpg'));
  assert.throws(() => model.preprocess(Buffer.from('definitely not an image')),
                (e) => e.code === 'CEREBRO_E_FORMAT' && /image buffer/.test(e.message));
  assert.throws(() => model.encodeText(['fine', 'nul\0inside']), (e) => /texts\[1\]/.test(e.message));
  assert.throws(() => model.encodeTokens([[49406, 1e6, 49407]]), /outside the vocabulary/);
  assert.throws(() => new Model(path.join(dir, 'tiny.pt'), { precision: 'fp16' }), /precision/);
  assert.throws(() => new Model(path.join(dir, 'openai-style.pt')), /openai-style\.pt/);
  assert.throws(() => model.encodeText('one string'), TypeError);
});

test('async errors keep the message of the thread that failed', async () => {
  const sizes = [2000, 3000, 4000, 5000, 6000, 7000];
  const results = await Promise.allSettled(
    sizes.map((batchSize) => model.encodeImages(photos(), { batchSize })));
  results.forEach((r, i) => {
    assert.equal(r.status, 'rejected');
    assert.equal(r.reason.code, 'CEREBRO_E_LIMIT');
    assert.match(r.reason.message, new RegExp(`batch_size ${sizes[i]} over`));
  });
  await assert.rejects(model.encodeImages(photos(), { mode: 'slow' }), /mode "slow"/);
});

test('concurrent calls share one model and agree', async () => {
  const texts = ['a snow leopard', 'a red car', 'two dogs on a beach'];
  const wantText = model.encodeText(texts, { flat: true });
  const wantImg = (await model.encodeImages(photos(), { flat: true })).vectors;
  const runs = await Promise.all([0, 1, 2, 3].map(() => model.encodeImages(photos(), { flat: true,
                                                                                     workers: 1 })));
  for (const r of runs) assert.ok(maxAbsDiff(r.vectors, wantImg) < 1e-6);
  assert.ok(maxAbsDiff(model.encodeText(texts, { flat: true }), wantText) < 1e-6);
});

test('models are freed once: close, double close, garbage collection', () => {
  const script = `
    const path = require('node:path');
    const ops = require(path.join(${JSON.stringify(PACKAGE)}, 'lib', 'ops'));
    const { Model } = require(${JSON.stringify(PACKAGE)});
    const fn = ops.fn();
    const realFree = fn.cerebro_model_free;
    const live = new Set();
    let frees = 0, opened = 0;
    fn.cerebro_model_free = (p) => {
      if (!live.delete(p)) throw new Error('free of a model that is not live: ' + p);
      frees++;
      realFree(p);
    };
    const open = () => { const m = new Model(process.argv[1], { threads: 1 }); opened++;
                         live.add(m[Object.getOwnPropertySymbols(Object.getPrototypeOf(m))[0]].ptr);
                         return m; };
    function dropped() { open().encodeText(['a']); }   // left to the garbage collector
    function closedTwice() {
      const m = open(); m.close(); m.close();
      try { m.tokenize('x'); throw new Error('a closed model tokenized'); }
      catch (e) { if (e.code !== 'CEREBRO_E_INVALID') throw e; }
    }
    function closedWhileBusy() {   // freed when the encode in flight ends
      const m = open(); const p = m.encodeImages([process.argv[2]]); m.close(); return p;
    }
    (async () => {
      for (let i = 0; i < 4; i++) {
        dropped();
        closedTwice();
        const { errors } = await closedWhileBusy();
        if (errors.length) throw new Error(errors[0].message);
      }
      for (let tries = 0; tries < 50 && live.size; tries++) {
        global.gc();
        await new Promise((r) => setTimeout(r, 20));
      }
      console.log('opened=' + opened + ' freed=' + frees + ' live=' + live.size);
    })();`;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script, path.join(fixtures(), 'tiny.pt'),
                                         photos()[0]],
                      { encoding: 'utf8', env: { ...process.env, MALLOC_CHECK_: '3' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'opened=12 freed=12 live=0', r.stderr);
});
