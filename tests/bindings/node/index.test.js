'use strict';
// Index end to end on the tiny model.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, fixtures, maxAbsDiff, photos, tmpdir } = require('./helpers');

const { Index, Model, defaultMinRelevance } = require(PACKAGE);

let model;
test.before(() => { model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' }); });
test.after(() => model.close());

/** photos/a/photo0-1.jpg, photos/b/photo2-3.jpg in a fresh directory. */
function folder(t) {
  const root = path.join(tmpdir(t), 'photos');
  photos().slice(0, 4).forEach((p, i) => {
    const sub = path.join(root, i < 2 ? 'a' : 'b');
    fs.mkdirSync(sub, { recursive: true });
    fs.copyFileSync(p, path.join(sub, path.basename(p)));
  });
  return root;
}

/** Runs body(index, folder) on a new index. */
function indexTest(name, body) {
  test(name, async (t) => {
    const root = folder(t);
    const index = await Index.open(path.join(path.dirname(root), 'index'), model);
    try {
      await body(index, root, t);
    } finally {
      await index.close();
    }
  });
}

const names = (hits) => hits.map((h) => path.basename(h.path));

indexTest('add reports progress and stats', async (index, root) => {
  const seen = [];
  const stats = await index.add([root], { progress: (p) => { seen.push(p); } });
  assert.equal(stats.added, 4);
  assert.equal(stats.failed, 0);
  assert.deepEqual(seen.filter((p) => p.path).map((p) => path.basename(p.path)).sort(),
                   ['photo0.jpg', 'photo1.jpg', 'photo2.jpg', 'photo3.jpg']);
  assert.equal(seen.at(-1).done, 4);
  const s = await index.stats();
  assert.deepEqual([s.dim, s.count, s.files, s.failed], [model.dim, 4, 4, 0]);
  assert.equal(s.modelId, model.id);
  const again = await index.add(root);
  assert.deepEqual([again.added, again.skipped], [0, 4]);
});

indexTest('search by text, image path, bytes and vector', async (index, root) => {
  await index.add([root]);
  const photo = path.join(root, 'a', 'photo0.jpg');
  const [vec] = (await model.encodeImages([photo])).vectors;
  for (const q of [{ image: photo }, fs.readFileSync(photo), vec, Array.from(vec), { vector: vec }]) {
    const hits = await index.search(q, { k: 4 });
    assert.equal(names(hits)[0], 'photo0.jpg');
    assert.ok(hits[0].score > 0.99);
  }
  const textHits = await index.search('a snow leopard', { k: 2 });
  assert.equal(textHits.length, 2);
  assert.ok(textHits[0].score >= textHits[1].score);
  await assert.rejects(index.search(new Float32Array(model.dim + 1)), /expected 64 floats/);
  await assert.rejects(index.search('x', { k: 0 }), (e) => e.code === 'CEREBRO_E_LIMIT');
});

indexTest('similar, get and vector', async (index, root) => {
  await index.add([root]);
  const photo = path.join(root, 'b', 'photo2.jpg');
  const [top] = await index.search({ image: photo }, { k: 1 });
  assert.deepEqual([top.width, top.height, top.timestamp], [1200, 1600, null]);
  const got = await index.get(top.id);
  assert.equal(got.path, top.path);
  const similar = await index.similar(top.id, { k: 10 });
  assert.equal(similar.length, 3);
  assert.ok(!similar.some((h) => h.id === top.id));
  const [want] = (await model.encodeImages([photo])).vectors;
  assert.ok(maxAbsDiff(await index.vector(top.id), want) < 1e-5);
  await assert.rejects(index.get(1e12), (e) => e.code === 'CEREBRO_E_NOT_FOUND');
});

indexTest('prefix limits results', async (index, root) => {
  await index.add([root]);
  const hits = await index.search('a photo', { k: 10, prefix: path.join(root, 'b') });
  assert.deepEqual(names(hits).sort(), ['photo2.jpg', 'photo3.jpg']);
});

indexTest('remove by path and id', async (index, root) => {
  await index.add([root]);
  await index.remove(path.join(root, 'a', 'photo0.jpg'));
  assert.ok(!names(await index.search('a photo', { k: 10 })).includes('photo0.jpg'));
  const [victim] = await index.search('a photo', { k: 1 });
  await index.remove(victim.id);
  assert.equal((await index.stats()).count, 2);
  await assert.rejects(index.remove(path.join(root, 'a', 'photo0.jpg')),
                       (e) => e.code === 'CEREBRO_E_NOT_FOUND' && e.message.includes('photo0.jpg'));
});

indexTest('add leaves out excluded files and folders', async (index, root) => {
  assert.equal((await index.add([root], { exclude: ['b'] })).added, 2);
  assert.deepEqual(names(await index.search('a photo', { k: 10 })).sort(), ['photo0.jpg', 'photo1.jpg']);
  const stats = await index.add([root], { exclude: 'a/photo0.jpg' });
  assert.deepEqual([stats.added, stats.removed], [2, 1]);
  assert.equal((await index.add([root])).added, 1);
  await assert.rejects(index.add([root], { exclude: [''] }), (e) => e.code === 'CEREBRO_E_INVALID');
});

indexTest('remove many in one step', async (index, root) => {
  await index.add([root]);
  const annFiles = () => fs.readdirSync(path.join(path.dirname(root), 'index'))
    .filter((n) => /^ann-\d+\.faiss$/.test(n));
  const [victim] = (await index.search('a photo', { k: 4 })).filter((h) => path.basename(path.dirname(h.path)) === 'b');
  const before = annFiles();
  const missing = await index.remove([path.join(root, 'a', 'photo0.jpg'), path.join(root, 'nowhere.jpg'), victim.id,
                                      path.join(root, 'a', 'photo1.jpg'), -5, path.join(root, 'a', 'photo0.jpg')]);
  assert.deepEqual(missing, [path.join(root, 'nowhere.jpg'), -5, path.join(root, 'a', 'photo0.jpg')]);
  const after = annFiles();
  assert.equal(before.length, 1);
  assert.equal(after.length, 1);
  const gen = (name) => Number(name.split(/[-.]/)[1]);
  assert.equal(gen(after[0]), gen(before[0]) + 1);
  assert.equal((await index.stats()).count, 1);
  assert.deepEqual(await index.remove([]), []);
  await assert.rejects(index.remove([victim.id, path.join(root, 'nowhere.jpg')]),
                       (e) => e.code === 'CEREBRO_E_NOT_FOUND' && e.message.includes('none of the 2'));
});

indexTest('bad files are reported through progress', async (index, root) => {
  fs.writeFileSync(path.join(root, 'a', 'broken.jpg'),
                   fs.readFileSync(path.join(root, 'a', 'photo0.jpg')).subarray(0, 3000));
  const failed = [];
  const stats = await index.add([root], { progress: (p) => { if (p.status) failed.push(p); } });
  assert.deepEqual([stats.added, stats.failed], [4, 1]);
  assert.deepEqual(failed.map((p) => path.basename(p.path)), ['broken.jpg']);
  assert.equal(failed[0].code, 'CEREBRO_E_CORRUPT');
  assert.ok(failed[0].message.includes('broken.jpg'));
});

indexTest('progress can cancel, synchronously or with a promise', async (index, root) => {
  // Cancelled at the first report, before any file is encoded: nothing is
  // committed, by any of the three.
  await assert.rejects(index.add([root], { progress: () => true, batchSize: 1, commitEvery: 1 }),
                       (e) => e.code === 'CEREBRO_E_CANCELLED' && /after 0 files/.test(e.message));
  await assert.rejects(index.add([root], { progress: async () => true }),
                       (e) => e.code === 'CEREBRO_E_CANCELLED');
  await assert.rejects(index.add([root], { progress: () => { throw new RangeError('from the callback'); } }),
                       /from the callback/);
  assert.equal((await index.stats()).count, 0);
});

indexTest('an index keeps its model alive', async (index, root, t) => {
  const own = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' });
  const ix = await Index.open(path.join(tmpdir(t), 'own'), own);
  await ix.add([root]);
  own.close();
  assert.ok(own.closed);
  assert.equal((await ix.search('a photo', { k: 2 })).length, 2);
  await ix.close();
  await ix.close();
  await assert.rejects(ix.search('a photo'), (e) => e.code === 'CEREBRO_E_INVALID');
});

indexTest('concurrent searches agree', async (index, root) => {
  await index.add([root]);
  const queries = ['a photo', 'a dog', { image: path.join(root, 'a', 'photo1.jpg') }];
  const want = await Promise.all(queries.map((q) => index.search(q, { k: 4 })));
  const runs = await Promise.all([0, 1, 2, 3].map(() =>
    Promise.all(queries.map((q) => index.search(q, { k: 4 })))));
  for (const run of runs) {
    assert.deepEqual(run.map((hits) => hits.map((h) => h.id)), want.map((hits) => hits.map((h) => h.id)));
  }
});

/** A store of n seeded random unit vectors (files v<i>.jpg that need not exist). */
async function randomStore(t, n = 200) {
  let seed = 12345;
  const uniform = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return (seed + 1) / 2147483649; };
  const vecs = [];
  for (let i = 0; i < n; i++) {
    const v = Float32Array.from({ length: model.dim },
                                () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()));
    const norm = Math.hypot(...v);
    vecs.push(v.map((x) => x / norm));
  }
  const dir = path.join(tmpdir(t), 'random');
  const index = await Index.open(dir, model);
  const items = vecs.map((_, i) => ({ path: path.join(dir, `v${i}.jpg`), size: 1, mtimeNs: 1n }));
  const flat = new Float32Array(n * model.dim);
  vecs.forEach((v, i) => flat.set(v, i * model.dim));
  assert.equal((await index.addEmbeddings(items, flat)).added, n);
  return { index, vecs };
}

test('relevance: the size-adjusted standard score of each hit', async (t) => {
  const { index, vecs } = await randomStore(t);
  try {
    const q = vecs[3].map((x, d) => x + 0.5 * vecs[4][d]);
    const dot = (a, b) => a.reduce((s, x, d) => s + x * b[d], 0);
    const norm = Math.hypot(...q);
    const scores = vecs.map((v) => dot(v, q) / norm);
    const mean = scores.reduce((a, b) => a + b) / scores.length;
    const sd = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / scores.length);
    // the store-size term cerebro.h documents for cerebro_results_relevance
    const size = 0.38 * (Math.sqrt(2 * Math.log(vecs.length)) - Math.sqrt(2 * Math.log(2000)));
    const hits = await index.search(q, { k: vecs.length, minRelevance: 0 });
    assert.equal(hits.length, vecs.length);
    assert.equal(path.basename(hits[0].path), 'v3.jpg');
    for (const h of hits) {
      const i = Number(path.basename(h.path).slice(1, -4));
      assert.ok(Math.abs(h.relevance - ((scores[i] - mean) / sd - size)) < 1e-3, `${h.path}: ${h.relevance}`);
    }
    assert.ok(hits[0].relevance > 5 && hits.at(-1).relevance < 5);
    const near = await index.similar(hits[0].id, { k: 3, minRelevance: 0 });
    assert.equal(near.length, 3);
    assert.ok(near.every((h) => !Number.isNaN(h.relevance)));
  } finally {
    await index.close();
  }
});

test('minRelevance cuts hits; the default is the library\'s', async (t) => {
  const { index, vecs } = await randomStore(t);
  try {
    const def = defaultMinRelevance();
    assert.ok(def > 0);
    for (const q of [vecs[0], vecs[1].map((x, d) => x + vecs[2][d]), new Float32Array(model.dim).fill(1)]) {
      const every = await index.search(q, { k: 20, minRelevance: 0 });
      assert.equal(every.length, 20);
      const rels = every.map((h) => h.relevance);
      for (const cut of [def, (rels[0] + rels[1]) / 2, rels[5]]) {
        const kept = await index.search(q, { k: 20, minRelevance: cut });
        assert.deepEqual(kept.map((h) => h.id), every.filter((h) => h.relevance >= cut).map((h) => h.id));
      }
      assert.deepEqual((await index.search(q, { k: 20 })).map((h) => h.id),
                       (await index.search(q, { k: 20, minRelevance: def })).map((h) => h.id));
      assert.deepEqual(await index.search(q, { k: 20, minRelevance: 1000 }), []);
    }
    const [top] = await index.search(vecs[9], { k: 5 });
    assert.equal(path.basename(top.path), 'v9.jpg');
    assert.deepEqual(await index.similar(top.id, { k: 5, minRelevance: 1000 }), []);
    await assert.rejects(index.search(vecs[0], { minRelevance: NaN }), (e) => e.code === 'CEREBRO_E_INVALID');
    await assert.rejects(index.search(vecs[0], { minRelevance: '4' }), /minRelevance/);
  } finally {
    await index.close();
  }
});

indexTest('a small store has no relevance and no cutoff', async (index, root) => {
  await index.add([root]);
  const hits = await index.search('zxqv blorp', { k: 4, minRelevance: 1000 });
  assert.equal(hits.length, 4);
  assert.ok(hits.every((h) => Number.isNaN(h.relevance)));
  assert.ok(Number.isNaN((await index.get(hits[0].id)).relevance));
});

test('Index wants a Model', () => {
  assert.throws(() => new Index('/tmp/x', 'tiny.pt'), TypeError);
});
