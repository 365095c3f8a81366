'use strict';
// The entry points a distributed run uses, through the Node binding: the
// pending walk, encoding with each file's size and content hash, storing the
// vectors with add_embeddings (the store then equals what add() makes of the
// same folder), merging stores, and the refusals (another model's store,
// another model id or dimension).

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, fixtures, photos, tmpdir } = require('./helpers');

const { Index, Model } = require(PACKAGE);

let model;
let other;
test.before(() => {
  model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' });
  other = new Model(path.join(fixtures(), 'tiny224.pt'), { precision: 'fp32' });
});
test.after(() => { model.close(); other.close(); });

/** A folder with the fixture photos and a file that is not an image. */
function folder(dir) {
  const out = path.join(dir, 'photos');
  fs.mkdirSync(out);
  for (const p of photos()) fs.copyFileSync(p, path.join(out, path.basename(p)));
  fs.writeFileSync(path.join(out, 'broken.jpg'), 'not a JPEG');
  return out;
}

test('pending + encodeImages(metadata) + addEmbeddings give what add() gives', async (t) => {
  const dir = tmpdir(t);
  const src = folder(dir);
  const ix = new Index(path.join(dir, 'put'), model);
  const pending = await ix.pending(src);
  assert.equal(pending.files.length, photos().length + 1);
  assert.equal(pending.unchanged, 0);
  // exclude as add() takes it: the broken file left out by name
  const some = await ix.pending(src, { exclude: ['broken*'] });
  assert.equal(some.files.length, photos().length);
  assert.ok(!some.files.some((f) => path.basename(f.path).startsWith('broken')));
  const paths = pending.files.map((f) => f.path);
  const { vectors, errors, sizes, hashes } = await model.encodeImages(paths, { flat: true, metadata: true });
  assert.equal(errors.length, 1);
  const bad = new Map(errors.map((e) => [e.index, e]));
  const items = pending.files.map((f, i) => ({
    path: f.path, size: f.size, mtimeNs: f.mtimeNs, hash: hashes.subarray(32 * i, 32 * i + 32),
    width: sizes[2 * i], height: sizes[2 * i + 1],
    status: bad.has(i) ? bad.get(i).status : 0, error: bad.has(i) ? bad.get(i).message : null,
  }));
  const stats = await ix.addEmbeddings(items, vectors);
  assert.deepEqual([stats.added, stats.failed], [photos().length, 1]);
  assert.equal((await ix.pending(src)).files.length, 0);

  const ref = new Index(path.join(dir, 'add'), model);
  await ref.add(src);
  for (const q of ['a dog', 'a snowy mountain', 'a red car']) {
    const [a, b] = [await ix.search(q), await ref.search(q)];
    assert.deepEqual(a.map((h) => [h.path, h.width, h.height]), b.map((h) => [h.path, h.width, h.height]));
    a.forEach((h, i) => assert.ok(Math.abs(h.score - b[i].score) < 1e-5));
  }
  const [sa, sb] = [await ix.stats(), await ref.stats()];
  assert.deepEqual([sa.count, sa.files, sa.failed], [sb.count, sb.files, sb.failed]);

  // Merge both into a third store: the same files once each.
  await ref.close();
  const merged = new Index(path.join(dir, 'merged'), model);
  const m = await merged.merge([path.join(dir, 'put'), path.join(dir, 'add')]);
  assert.equal(m.added, photos().length);
  assert.equal(m.skipped, photos().length + 1); // the same mtimes: the first store's rows stay
  assert.equal((await merged.stats()).count, photos().length);

  await assert.rejects(ix.addEmbeddings(items.slice(0, 1), vectors.subarray(0, model.dim),
                                        { modelId: other.id }), { code: 'CEREBRO_E_MISMATCH' });
  await assert.rejects(ix.addEmbeddings(items.slice(0, 1), new Float32Array(model.dim + 1)),
                       { code: 'CEREBRO_E_INVALID' });
  const foreign = new Index(path.join(dir, 'foreign'), other);
  await assert.rejects(foreign.merge(path.join(dir, 'put')), { code: 'CEREBRO_E_MISMATCH' });
  await Promise.all([ix.close(), merged.close(), foreign.close()]);
});
