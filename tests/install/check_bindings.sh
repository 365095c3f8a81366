#!/usr/bin/env bash
# Installs the build into a temporary prefix, then the bindings as their
# users install them, and uses them against that installed library:
#   python  pip install --no-build-isolation of bindings/python into a fresh
#           venv (offline: Debian's setuptools, --no-index), run from outside
#           the checkout;
#   node    npm pack of bindings/node, npm install of the tarball into a new
#           project (koffi from npm's cache when it holds it), require()d.
# The library is found by the system loader (LD_LIBRARY_PATH names the
# prefix, as ld.so.cache would after `ldconfig`), and through
# $CEREBRO_LIBRARY. Each binding indexes examples/images with the installed
# default model and must rank the frog first for "a frog".
#   check_bindings.sh BUILD_DIR SOURCE_DIR [python] [node]
set -eu
build=$1 src=$2
shift 2
parts=${*:-python node}
# shellcheck source=tests/install/common.sh
. "$(dirname "$0")/common.sh"
export PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" --component runtime > "$tmp/install.log"
cmake --install "$build" --prefix "$prefix" --component tools >> "$tmp/install.log"
lib=$(find "$prefix" -name 'libcerebro.so.0' | head -n 1)
[ -n "$lib" ] || fail "libcerebro.so.0 not installed"
libdir=$(dirname "$lib")
model=$prefix/share/cerebro/default.pt
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
images=$src/examples/images
mkdir "$tmp/run"
cd "$tmp/run" # nothing of the checkout on the module search paths

for part in $parts; do
  case $part in
  python)
    # A copy: pip builds in the source folder (build/, *.egg-info).
    cp -r "$src/bindings/python" "$tmp/python-src"
    rm -rf "$tmp/python-src/build" "$tmp/python-src"/*.egg-info
    /usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
    "$tmp/venv/bin/pip" install --no-build-isolation --no-index "$tmp/python-src" \
      > "$tmp/pip.log" 2>&1 || { cat "$tmp/pip.log"; fail "pip install failed"; }
    cat > "$tmp/use.py" <<'EOF'
import os, sys
import cerebro
venv, lib, model, images, version, db = sys.argv[1:]
assert cerebro.__file__.startswith(venv + "/"), f"imported {cerebro.__file__}, not the venv's"
assert cerebro.library_version() == version, cerebro.library_version()
maps = {line.split()[-1] for line in open("/proc/self/maps") if "libcerebro" in line}
assert maps == {os.path.realpath(lib)}, f"loaded {maps}, want {os.path.realpath(lib)}"
with cerebro.Model(model) as m, cerebro.Index(db, m) as index:
    stats = index.add([images])
    assert (stats.added, stats.failed) == (8, 0), stats
    hits = index.search("a frog", k=3)
    assert os.path.basename(hits[0].path) == "frog.png", [h.path for h in hits]
print(f"python: {cerebro.__file__} -> {maps.pop()}, frog first")
EOF
    LD_LIBRARY_PATH=$libdir "$tmp/venv/bin/python" "$tmp/use.py" "$tmp/venv" "$lib" "$model" \
      "$images" "$version" "$tmp/py1.cerebro" || fail "python binding through the system loader"
    CEREBRO_LIBRARY=$lib "$tmp/venv/bin/python" "$tmp/use.py" "$tmp/venv" "$lib" "$model" \
      "$images" "$version" "$tmp/py2.cerebro" || fail "python binding through CEREBRO_LIBRARY"
    ;;
  node)
    command -v npm > /dev/null || fail "npm is missing (scripts/setup.sh installs it)"
    (cd "$src/bindings/node" && npm pack --pack-destination "$tmp" > "$tmp/pack.log" 2>&1) ||
      { cat "$tmp/pack.log"; fail "npm pack failed"; }
    tarball=$tmp/cerebro-$version.tgz
    [ -f "$tarball" ] || fail "npm pack made no $tarball: $(ls "$tmp")"
    # The tarball holds the package and nothing of the developer's tree.
    listing=$(tar -tzf "$tarball" | sort | xargs)
    for f in package/package.json package/index.js package/index.d.ts package/README.md \
             package/lib/ffi.js package/lib/worker.js; do
      case " $listing " in *" $f "*) ;; *) fail "tarball lacks $f: $listing";; esac
    done
    case "$listing" in *node_modules*|*package-lock*) fail "tarball holds $listing";; esac
    mkdir "$tmp/app"
    (cd "$tmp/app" && npm init -y > /dev/null &&
     npm install --prefer-offline --no-audit --no-fund "$tarball" > "$tmp/npm.log" 2>&1) ||
      { cat "$tmp/npm.log"; fail "npm install of the tarball failed"; }
    cat > "$tmp/app/use.js" <<'EOF'
'use strict';
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const [lib, model, images, version, db] = process.argv.slice(2);
const cerebro = require('cerebro');
const where = require.resolve('cerebro');
assert.ok(where.startsWith(path.join(__dirname, 'node_modules', 'cerebro') + path.sep), where);
assert.strictEqual(cerebro.libraryVersion(), version);
const maps = new Set(fs.readFileSync('/proc/self/maps', 'utf8').split('\n')
  .filter((l) => l.includes('libcerebro')).map((l) => l.split(/\s+/).pop()));
assert.deepStrictEqual([...maps], [fs.realpathSync(lib)]);
(async () => {
  const m = new cerebro.Model(model);
  const index = await cerebro.Index.open(db, m);
  const stats = await index.add([images]);
  assert.strictEqual(stats.added, 8);
  const hits = await index.search('a frog', { k: 3 });
  assert.strictEqual(path.basename(hits[0].path), 'frog.png', JSON.stringify(hits));
  await index.close();
  m.close();
  console.log(`node: ${where} -> ${[...maps][0]}, frog first`);
})().catch((e) => { console.error(e); process.exit(1); });
EOF
    (cd "$tmp/app" && LD_LIBRARY_PATH=$libdir node use.js "$lib" "$model" "$images" "$version" \
       "$tmp/node1.cerebro") || fail "node binding through the system loader"
    (cd "$tmp/app" && CEREBRO_LIBRARY=$lib node use.js "$lib" "$model" "$images" "$version" \
       "$tmp/node2.cerebro") || fail "node binding through CEREBRO_LIBRARY"
    ;;
  *) fail "unknown part $part";;
  esac
done
echo "bindings installed and used against $libdir: $parts"
