'use strict';
// The example at the top of bindings/node/README.md runs as written,
// against the tiny fixture model (TODO, saying so, while the index is a stub).

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, fixtures, tmpdir } = require('./helpers');

function snippet() {
  const text = fs.readFileSync(path.join(PACKAGE, 'README.md'), 'utf8');
  return text.match(/```js\n(.*?)```/s)[1];
}

test('the README example runs', (t) => {
  const code = snippet();
  assert.equal(code.trim().split('\n').length, 5, 'the README promises a five-line example');
  const dir = tmpdir(t);
  fs.symlinkSync(path.join(fixtures(), 'tiny.pt'), path.join(dir, 'tiny.pt'));
  fs.cpSync(path.join(fixtures(), 'photos'), path.join(dir, 'photos'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PACKAGE, path.join(dir, 'node_modules', 'cerebro'));
  // The README shows top-level await; run it inside an async function.
  fs.writeFileSync(path.join(dir, 'example.js'),
                   `(async () => {\n${code}})().catch((e) => { console.error(e); process.exit(1); });\n`);
  const r = spawnSync(process.execPath, ['example.js'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.ok(lines.some((l) => l.startsWith('4/4 ')), r.stdout);
  for (const hit of lines.slice(-3)) assert.match(hit, /^-?\d\.\d{3} .*photo\d\.jpg$/);
});
