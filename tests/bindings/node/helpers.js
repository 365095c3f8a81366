'use strict';
// Shared set-up for the Node binding tests. CTest sets CEREBRO_LIBRARY,
// CEREBRO_MODEL_FIXTURES, CEREBRO_LAYOUT_PROBE and CEREBRO_PREPROCESS; run
// by hand, the model fixtures are generated into a temporary directory.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PACKAGE = path.join(ROOT, 'bindings', 'node');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

let fixturesDir = null;
function fixtures() {
  if (fixturesDir) return fixturesDir;
  if (process.env.CEREBRO_MODEL_FIXTURES) {
    fixturesDir = process.env.CEREBRO_MODEL_FIXTURES;
    if (!fs.existsSync(path.join(fixturesDir, 'tiny.pt'))) {
      throw new Error(`CEREBRO_MODEL_FIXTURES=${fixturesDir} has no tiny.pt`);
    }
    return fixturesDir;
  }
  fixturesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cerebro-node-fixtures-'));
  execFileSync(PYTHON, [path.join(ROOT, 'tests', 'model', 'gen_model_fixtures.py'), fixturesDir,
                        '--no-vitb32'], { stdio: 'ignore' });
  return fixturesDir;
}

function photos() {
  const dir = path.join(fixtures(), 'photos');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.jpg')).sort().map((f) => path.join(dir, f));
}

function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cerebro-node-'));
  if (t) t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A C program or library built from source in a temporary directory. */
function compile(args, out) {
  const cc = process.env.CC || 'cc';
  execFileSync(cc, [...args, '-o', out], { stdio: 'inherit' });
  return out;
}

function layout(t) {
  let probe = process.env.CEREBRO_LAYOUT_PROBE;
  if (!probe) {
    probe = compile(['-std=c99', `-I${path.join(ROOT, 'include')}`,
                     path.join(ROOT, 'tests', 'bindings', 'layout.c')], path.join(tmpdir(t), 'layout'));
  }
  return JSON.parse(execFileSync(probe, { encoding: 'utf8' }));
}

function preprocessTool() {
  const candidates = [process.env.CEREBRO_PREPROCESS,
                      path.join(ROOT, 'build', 'examples', 'cerebro-preprocess')];
  return candidates.find((p) => p && fs.existsSync(p)) || null;
}

function cosineRows(a, b) {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}

function maxAbsDiff(a, b) {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

module.exports = {
  ROOT, PACKAGE, PYTHON, fixtures, photos, tmpdir, compile, layout, preprocessTool,
  cosineRows, maxAbsDiff,
};
