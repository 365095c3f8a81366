#!/usr/bin/env bash
# Uses an installed libcerebro the way a user would, from a scratch folder
# outside the checkout: `cerebro index` and `cerebro search` on the sample
# images with the installed default model (no --model), a C program built
# with pkg-config, the Python binding pip-installed from this source tree into
# a venv, and the Node binding installed into a new project from its
# `npm pack` tarball. Each searches the sample images and checks the best hit.
#
#   bash scripts/check-installed.sh [SCRATCH_DIR]
#
# Install first, e.g. the Debian packages (README, "Install"):
#   cmake --build build --target package && apt-get install ./build/*.deb
# scripts/check-fresh-debian.sh runs this on a fresh Debian 12.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
model=$(realpath "$(pkg-config --variable=prefix cerebro)/share/cerebro/default.pt")
mkdir -p "$work"
cd "$work"
rm -rf photos ./*.cerebro venv node-app ./*.tgz
cp -r "$src/examples/images" photos
echo "check-installed: in $work, model $model"

echo "-- cerebro (installed CLI, its default model)"
command -v cerebro
cerebro --db cli.cerebro index photos
cerebro --db cli.cerebro search -k 3 "an owl" | tee hits.txt
head -n 1 hits.txt | grep -q "owl.png"

echo "-- a C program built with pkg-config"
cc -std=c99 -Wall -Wextra -Werror "$src/examples/search.c" \
  $(pkg-config --cflags --libs cerebro) -o cerebro-search
./cerebro-search "$model" c.cerebro "a flamingo" photos 2> /dev/null | tee c-hits.txt
head -n 1 c-hits.txt | grep -q "flamingo.png"

echo "-- Python binding: pip install from the source tree into a venv"
python3 -m venv --system-site-packages venv
venv/bin/pip install --no-build-isolation --no-index -q "$src/bindings/python"
(cd / && "$work/venv/bin/python" - "$work" "$model") <<'EOF'
import sys
import cerebro
work, model_path = sys.argv[1], sys.argv[2]
assert "/venv/" in cerebro.__file__, cerebro.__file__
model = cerebro.Model(model_path)
index = cerebro.Index(f"{work}/py.cerebro", model)
index.add([f"{work}/photos"])
hit = index.search("a frog", k=1)[0]
print("python:", cerebro.__file__, "->", hit.path)
assert hit.path.endswith("frog.png"), hit
EOF

echo "-- Node binding: npm pack, installed into a new project"
(cd "$src/bindings/node" && npm pack --silent --pack-destination "$work")
mkdir node-app
cd node-app
npm init -y > /dev/null
npm install --no-audit --no-fund --loglevel=error ../cerebro-*.tgz
node - "$model" "$work" <<'EOF'
const cerebro = require('cerebro');
const [modelPath, work] = process.argv.slice(2);
(async () => {
  const model = new cerebro.Model(modelPath);
  const index = await cerebro.Index.open(`${work}/node.cerebro`, model);
  await index.add([`${work}/photos`]);
  const [hit] = await index.search('a giraffe', { k: 1 });
  console.log('node:', cerebro.libraryPath(), '->', hit.path);
  await index.close();
  model.close();
  if (!hit.path.endsWith('giraffe.jpg')) process.exit(1);
})().catch((e) => { console.error(e); process.exit(1); });
EOF
echo "check-installed: all passed"
