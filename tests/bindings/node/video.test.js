'use strict';
// Video frames through the Node binding: hits carry the timestamp and the
// kind ('video-frame'; stills stay 'image' with timestamp null). The clip is
// written by ffmpeg at test time.

const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, fixtures, photos, tmpdir } = require('./helpers');

const { Index, Model } = require(PACKAGE);

test('video frames carry their timestamp and kind', async (t) => {
  const dir = tmpdir(t);
  const media = path.join(dir, 'media');
  fs.mkdirSync(media);
  // 2 s of red then 2 s of blue, 160x120 at 10 fps.
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=160x120:r=10:d=2',
    '-f', 'lavfi', '-i', 'color=c=blue:s=160x120:r=10:d=2', '-filter_complex',
    '[0][1]concat=n=2:v=1,format=yuv420p[v]', '-map', '[v]', '-c:v', 'libx264', path.join(media, 'clip.mp4')]);
  fs.copyFileSync(photos()[0], path.join(media, 'photo.jpg'));
  const model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' });
  const index = await Index.open(path.join(dir, 'index'), model);
  try {
    const stats = await index.add([media], { frameInterval: 100, dedupThreshold: 1 });
    assert.equal(stats.added, 2);
    const hits = await index.search({ image: photos()[0] }, { k: 3 });
    const frames = hits.filter((h) => h.kind === 'video-frame').map((h) => h.timestamp).sort();
    assert.deepEqual(frames.map((x) => Math.round(x * 1000) / 1000), [0, 2]);
    const still = hits.find((h) => h.kind === 'image');
    assert.equal(still.timestamp, null);
    assert.equal(path.basename(still.path), 'photo.jpg');
  } finally {
    await index.close();
    model.close();
  }
});

test('progress reports inside a video and a cancel there stops at once', async (t) => {
  const dir = tmpdir(t);
  const media = path.join(dir, 'media');
  fs.mkdirSync(media);
  // 300 frames: at least one interim report (every 250 decoded frames).
  execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=green:s=160x120:r=10:d=30',
    '-pix_fmt', 'yuv420p', '-c:v', 'libx264', path.join(media, 'long.mp4')]);
  fs.copyFileSync(photos()[0], path.join(media, 'photo.jpg'));
  const model = new Model(path.join(fixtures(), 'tiny.pt'), { precision: 'fp32' });
  const index = await Index.open(path.join(dir, 'index'), model);
  try {
    const seen = [];
    await assert.rejects(index.add([media], { progress: (p) => { seen.push(p); return p.partial; } }),
                         (e) => e.code === 'CEREBRO_E_CANCELLED');
    const interim = seen.filter((p) => p.partial);
    assert.equal(interim.length, 1);
    assert.equal(path.basename(interim[0].path), 'long.mp4');
    assert.equal(interim[0].done, 1);
    assert.equal((await index.stats()).count, 1);
    assert.ok((await index.add([media])).frames > 0);
  } finally {
    await index.close();
    model.close();
  }
});
