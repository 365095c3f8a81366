#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install dependencies, build,
# index the bundled sample images with the default model and search them.
# A second run re-encodes nothing (the index is incremental).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j"$(nproc)"

cerebro=build/examples/cerebro
db=build/demo.cerebro
model=models/default.pt
if [ ! -f "$model" ]; then
  # Until a trained model is bundled, a random-weight model shows the
  # mechanics (indexing, incremental re-runs, search); its rankings mean nothing.
  echo "demo: $model is not there yet; using a random-weight test model (rankings are arbitrary)"
  model=build/demo-model/tiny.pt
  [ -f "$model" ] || /usr/bin/python3 tests/model/gen_model_fixtures.py build/demo-model --no-vitb32 > /dev/null
fi

echo "== preprocess one image into the model's input tensor"
build/examples/cerebro-preprocess --fast examples/images/tiger.jpg
echo "== index examples/images into $db"
"$cerebro" --db "$db" --model "$model" index examples/images
echo "== search"
for q in "a tiger" "a bird standing on one leg"; do
  echo "-- \"$q\""
  "$cerebro" --db "$db" search -k 3 "$q"
done
"$cerebro" --db "$db" info
