'use strict';
// Every image format libcerebro reads, through the Node binding: each sample
// (tests/format_samples.py: WebP, GIF, TIFF, BMP, HEIC, AVIF, JPEG XL)
// preprocessed from its file and from a Buffer, encoded from its file and
// searched for by its bytes, against the same picture as PNG: exactly for
// the lossless formats, closely for the lossy ones.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, PYTHON, ROOT, cosineRows, fixtures, photos, tmpdir } = require('./helpers');

const { Index, Model, CerebroError } = require(PACKAGE);

let model;
let samples;
let dir;
test.before(() => {
  model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' });
  dir = tmpdir();
  const folder = path.join(dir, 'formats');
  samples = JSON.parse(execFileSync(PYTHON, [path.join(ROOT, 'tests', 'format_samples.py'), photos()[0],
                                             folder, 'photo'], { encoding: 'utf8' }));
});
test.after(() => {
  model.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function meanAbsDiff(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

for (const fmt of ['webp', 'gif', 'tiff', 'bmp', 'heic', 'avif', 'jxl']) {
  test(`${fmt}: preprocess from a file and a Buffer, encode`, async () => {
    const s = samples[fmt];
    const want = model.preprocess(s.png, { mode: 'exact' });
    const got = model.preprocess(s.file, { mode: 'exact' });
    assert.deepEqual(model.preprocess(fs.readFileSync(s.file), { mode: 'exact' }), got);
    assert.deepEqual(model.preprocess(new Uint8Array(fs.readFileSync(s.file)), { mode: 'exact' }), got);
    if (s.lossless) assert.deepEqual(got, want);
    else assert.ok(meanAbsDiff(got, want) < 0.05, `${fmt}: mean difference ${meanAbsDiff(got, want)}`);

    const { vectors, errors } = await model.encodeImages([s.file, s.png], { mode: 'exact' });
    assert.deepEqual(errors, []);
    const cos = cosineRows(vectors[0], vectors[1]);
    assert.ok(cos > (s.lossless ? 0.99999 : 0.98), `${fmt}: cosine ${cos}`);
  });
}

test('an index of every format is searched by each file\'s bytes', async () => {
  const idx = await Index.open(path.join(dir, 'store'), model, { create: true });
  try {
    const stats = await idx.add(path.join(dir, 'formats'));
    const all = Object.values(samples);
    // The reference PNGs lie beside the samples: every file is indexed.
    assert.equal(stats.added, 2 * all.length);
    assert.equal(stats.failed, 0);
    for (const s of all) {
      // The lossless samples are all the same pixels: their items tie.
      const hits = await idx.search({ data: fs.readFileSync(s.file) }, { k: 100 });
      const own = hits.find((h) => h.path === s.file);
      assert.ok(own, `${s.file} is not indexed`);
      assert.ok(own.score > (s.lossless ? hits[0].score - 1e-5 : 0.98),
                `${s.file}: its own item scores ${own.score}, the best ${hits[0].path} ${hits[0].score}`);
    }
  } finally {
    await idx.close();
  }
});

test('the bytes decide: a WebP named .jpg is a WebP, text named .heic is refused', () => {
  const misnamed = path.join(dir, 'really-webp.jpg');
  fs.copyFileSync(samples.webp.file, misnamed);
  assert.deepEqual(model.preprocess(misnamed, { mode: 'exact' }), model.preprocess(samples.webp.png, { mode: 'exact' }));
  const text = path.join(dir, 'notes.heic');
  fs.writeFileSync(text, 'not a picture\n');
  assert.throws(() => model.preprocess(text), (e) => e instanceof CerebroError && e.code === 'CEREBRO_E_FORMAT' &&
                /notes\.heic.*not an image format libcerebro reads/.test(e.message));
});
