'use strict';
// The loader, the version check, and the declarations against the header.

const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const { PACKAGE, ROOT, compile, layout, tmpdir } = require('./helpers');

const cerebro = require(PACKAGE);
const ffi = require(path.join(PACKAGE, 'lib', 'ffi'));

const HEADER = fs.readFileSync(path.join(ROOT, 'include', 'cerebro', 'cerebro.h'), 'utf8');

test('version matches the header', () => {
  const macro = (name) => Number(HEADER.match(new RegExp(`#define CEREBRO_VERSION_${name} (\\d+)`))[1]);
  assert.deepEqual(ffi.VERSION, { major: macro('MAJOR'), minor: macro('MINOR'), patch: macro('PATCH') });
  assert.equal(cerebro.libraryVersion(), HEADER.match(/CEREBRO_VERSION_STRING "([^"]+)"/)[1]);
});

test('every header function is declared', () => {
  const declared = new Set([...HEADER.matchAll(/CEREBRO_API\s+[^;(]*?\b(cerebro_\w+)\s*\(/g)]
    .map((m) => m[1]));
  const bound = new Set(ffi.PROTOTYPES.map((p) => p.match(/\b(cerebro_\w+)\s*\(/)[1]));
  assert.ok(declared.size > 50);
  assert.deepEqual([...bound].sort(), [...declared].sort());
});

test('structs mirror the header', (t) => {
  const probe = layout(t);
  assert.deepEqual(Object.keys(probe.structs).sort(), [...ffi.STRUCTS].sort());
  for (const [name, c] of Object.entries(probe.structs)) {
    const type = ffi.T[name];
    assert.equal(ffi.koffi.sizeof(type), c.size, name);
    const offsets = Object.fromEntries(Object.keys(c.fields)
      .map((f) => [f, ffi.koffi.offsetof(type, f)]));
    assert.deepEqual(offsets, c.fields, name);
    assert.deepEqual(Object.keys(type.members), Object.keys(c.fields), name);
  }
});

test('constants and statuses mirror the header', (t) => {
  const c = layout(t).constants;
  const k = ffi.CONSTANTS;
  assert.deepEqual(k.PREPROCESS, { exact: c.CEREBRO_PREPROCESS_EXACT, fast: c.CEREBRO_PREPROCESS_FAST });
  assert.deepEqual(k.PRECISION, { auto: c.CEREBRO_PRECISION_AUTO, fp32: c.CEREBRO_PRECISION_FP32,
                                  bf16: c.CEREBRO_PRECISION_BF16 });
  for (const name of ['INDEX_CREATE', 'INDEX_READONLY', 'ADD_NO_RECURSE', 'ADD_HIDDEN',
                      'ADD_FOLLOW_SYMLINKS', 'ADD_NO_VIDEO', 'MAX_K', 'ITEM_IMAGE', 'ITEM_VIDEO_FRAME']) {
    assert.equal(k[name], c[`CEREBRO_${name}`], name);
  }
  const statuses = Object.fromEntries(Object.entries(c)
    .filter(([name]) => name === 'CEREBRO_OK' || name.startsWith('CEREBRO_E_'))
    .map(([name, v]) => [name.slice('CEREBRO_'.length), v]));
  assert.deepEqual({ ...cerebro.Status }, statuses);
  const fn = require(path.join(PACKAGE, 'lib', 'ops')).fn();
  for (const [name, value] of Object.entries(cerebro.Status)) {
    assert.equal(cerebro.statusCode(value), `CEREBRO_${name}`);
    assert.ok(fn.cerebro_status_string(value).startsWith(`CEREBRO_${name}`), name);
  }
  assert.equal(cerebro.statusCode(-999), 'CEREBRO_STATUS_-999');
});

function runNode(code, env) {
  const full = { ...process.env, ...env };
  return spawnSync(process.execPath, ['-e', code], { env: full, encoding: 'utf8', cwd: PACKAGE });
}

/** Loads a fake library built from `source` and returns the failed run. */
function loadFake(t, source) {
  const dir = tmpdir(t);
  fs.writeFileSync(path.join(dir, 'fake.c'), source);
  const lib = compile(['-shared', '-fPIC', path.join(dir, 'fake.c')], path.join(dir, 'libfake.so'));
  const r = runNode("require('.').libraryVersion()", { CEREBRO_LIBRARY: lib });
  assert.notEqual(r.status, 0);
  return r.stderr;
}

test('refuses another major version', (t) => {
  assert.match(loadFake(t, 'unsigned cerebro_version_number(void) { return 10203; }\n'),
               /libcerebro 1\.2\.3, but these bindings were written for major version 0/);
});

test('refuses a library that is not libcerebro', (t) => {
  assert.match(loadFake(t, 'int something_else(void) { return 0; }\n'), /is not libcerebro/);
});

test('an explicit path that does not load is an error naming it', () => {
  const r = runNode("require('.').libraryVersion()", { CEREBRO_LIBRARY: '/nonexistent/libcerebro.so' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /libcerebro not found.*CEREBRO_LIBRARY.*\/nonexistent\/libcerebro\.so/s);
});

test('errors carry status, code and message', () => {
  const e = new cerebro.CerebroError('a.jpg: truncated', cerebro.Status.E_CORRUPT);
  assert.ok(e instanceof Error);
  assert.equal(e.status, -5);
  assert.equal(e.code, 'CEREBRO_E_CORRUPT');
  assert.equal(e.message, 'a.jpg: truncated');
});

test('index.d.ts declares every export and method', () => {
  const dts = fs.readFileSync(path.join(PACKAGE, 'index.d.ts'), 'utf8');
  for (const name of Object.keys(cerebro)) {
    assert.match(dts, new RegExp(`export declare (class|function|const) ${name}\\b`), name);
  }
  const body = (cls) => dts.match(new RegExp(`export declare class ${cls} [^{]*\\{(.*?)\\n\\}`, 's'))[1];
  for (const cls of ['Model', 'Index']) {
    const declared = body(cls);
    const proto = cerebro[cls].prototype;
    const members = Object.getOwnPropertyNames(proto).filter((m) => m !== 'constructor');
    for (const m of [...members, ...Object.getOwnPropertyNames(cerebro[cls])
      .filter((m) => typeof cerebro[cls][m] === 'function')]) {
      assert.match(declared, new RegExp(`\\b${m}\\b`), `${cls}.${m}`);
    }
  }
});
