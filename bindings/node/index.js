'use strict';
// Node.js bindings for libcerebro over koffi (no compiled addon).
// The library is found through $CEREBRO_LIBRARY, then this package's
// directory, then the system loader (libcerebro.so.0); it must have the
// major version these bindings were written for.

const { CerebroError, Status, statusCode } = require('./lib/errors');
const { VERSION } = require('./lib/ffi');
const { Index } = require('./lib/search_index');
const { Model } = require('./lib/model');
const ops = require('./lib/ops');

/** Version string of the loaded libcerebro, e.g. "0.1.0". */
function libraryVersion() {
  return ops.fn().cerebro_version_string();
}

/** Path libcerebro was loaded from. */
function libraryPath() {
  return ops.loadedPath();
}

/** The library's default cutoff of Index.search() (CEREBRO_MIN_RELEVANCE_DEFAULT). */
function defaultMinRelevance() {
  return ops.defaultMinRelevance();
}

module.exports = {
  Model, Index, CerebroError, Status, statusCode, libraryVersion, libraryPath, defaultMinRelevance,
  bindingsVersion: `${VERSION.major}.${VERSION.minor}.${VERSION.patch}`,
};
