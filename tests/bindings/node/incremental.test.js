'use strict';
// Re-indexing and search-by-id bugs a user would see, through the Node
// binding (scripts/mutants.txt holds the mutants these tests must kill): a
// photo rewritten in place to the same byte size is updated whether its mtime
// moved to a later second or only within the same second, and similar()
// under a prefix that excludes the item returns exactly k hits.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, fixtures, maxAbsDiff, photos, tmpdir } = require('./helpers');

const { Index, Model } = require(PACKAGE);

let model;
test.before(() => { model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' }); });
test.after(() => model.close());

/** The JPEG with comment segments after SOI that make it `size` bytes. */
function paddedJpeg(data, size) {
  let pad = size - data.length;
  assert.ok(pad >= 4, `cannot pad ${data.length} bytes to ${size}`);
  const segments = [];
  while (pad) {
    let n = Math.min(pad, 65537); // a segment is 4 to 65537 bytes
    if (pad - n > 0 && pad - n < 4) n -= 4;
    const seg = Buffer.alloc(n, 'p');
    seg.writeUInt16BE(0xfffe, 0);
    seg.writeUInt16BE(n - 2, 2);
    segments.push(seg);
    pad -= n;
  }
  return Buffer.concat([data.subarray(0, 2), ...segments, data.subarray(2)]);
}

/** Sets the mtime (seconds, a fraction allowed); returns it in ns as stored. */
function setMtime(file, seconds) {
  fs.utimesSync(file, seconds, seconds);
  return fs.statSync(file, { bigint: true }).mtimeNs;
}

for (const [name, first, second] of [['a later second', 1600000000, 1600000007],
                                     ['the same second', 1600000000.1, 1600000000.7]]) {
  test(`a same-size rewrite in ${name} is updated`, async (t) => {
    const root = tmpdir(t);
    const folder = path.join(root, 'photos');
    fs.mkdirSync(folder);
    const photo = path.join(folder, 'edited.jpg');
    const [a, b] = photos().slice(0, 2).map((p) => fs.readFileSync(p));
    const size = Math.max(a.length, b.length) + 16;
    fs.writeFileSync(photo, paddedJpeg(a, size));
    const before = setMtime(photo, first);
    const index = await Index.open(path.join(root, 'index'), model);
    try {
      assert.equal((await index.add([folder])).added, 1);
      const again = await index.add([folder]);
      assert.deepEqual([again.added, again.updated, again.skipped], [0, 0, 1]);

      fs.writeFileSync(photo, paddedJpeg(b, size));
      const after = setMtime(photo, second);
      assert.equal(fs.statSync(photo).size, size);
      assert.notEqual(after, before);
      assert.equal(after / 1000000000n === before / 1000000000n, name === 'the same second');
      const stats = await index.add([folder]);
      assert.deepEqual([stats.added, stats.updated, stats.skipped, stats.removed, stats.failed],
                       [0, 1, 0, 0, 0]);
      const [hit] = await index.search('x', { k: 1 });
      const [want] = (await model.encodeImages([photo])).vectors;
      assert.ok(maxAbsDiff(await index.vector(hit.id), want) < 1e-5);
    } finally {
      await index.close();
    }
  });
}

test('similar under a prefix without the item gives exactly k', async (t) => {
  const root = path.join(tmpdir(t), 'photos');
  fs.mkdirSync(path.join(root, 'a'), { recursive: true });
  fs.mkdirSync(path.join(root, 'b'));
  const all = photos();
  fs.copyFileSync(all[0], path.join(root, 'a', 'item.jpg'));
  for (const p of all.slice(1, 4)) fs.copyFileSync(p, path.join(root, 'b', path.basename(p)));
  const index = await Index.open(path.join(path.dirname(root), 'index'), model);
  try {
    assert.equal((await index.add([root])).added, 4);
    const item = (await index.search('x', { k: 10 })).find((h) => h.path.endsWith('/a/item.jpg'));
    const prefix = path.join(root, 'b') + '/';
    const nearest = await index.search(await index.vector(item.id), { k: 10, prefix });
    assert.equal(nearest.length, 3);
    for (const k of [1, 2, 3, 5]) {
      const hits = await index.similar(item.id, { k, prefix });
      assert.equal(hits.length, Math.min(k, 3), `similar(k=${k}, prefix=b/)`);
      assert.deepEqual(hits.map((h) => h.id), nearest.slice(0, k).map((h) => h.id));
    }
  } finally {
    await index.close();
  }
});
