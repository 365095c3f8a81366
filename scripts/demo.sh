#!/usr/bin/env bash
# The main job, end to end on a fresh Debian machine: install what is needed,
# build, assemble the sample gallery (Google and Twitter emoji from npm, the
# bundled Tux Paint pictures, Tux Paint stamps and Openclipart where their
# Debian packages are installed), index it with the bundled default model,
# print two example searches and serve the search page at
# http://127.0.0.1:8080 until Ctrl-C.
#
#   bash scripts/demo.sh              # everything, then serve
#   bash scripts/demo.sh --no-serve   # stop after the example searches
#   CEREBRO_DEMO_PORT=9000 bash scripts/demo.sh
#
# A second run re-encodes nothing (the index is incremental) and starts in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
serve=1
for arg in "$@"; do
  case "$arg" in
    --no-serve) serve=0 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done
port=${CEREBRO_DEMO_PORT:-8080}

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j"$(nproc)" --target cerebro-cli cerebro-preprocess

cerebro=build/programs/cerebro
db=build/demo/gallery.cerebro
model=models/default.pt

echo "== preprocess one image into the model's input tensor"
build/examples/cerebro-preprocess --fast examples/images/tiger.jpg

echo "== assemble the sample gallery"
# gallery.py prints the folders to index on stdout (progress goes to stderr).
folders=$(/usr/bin/python3 scripts/gallery.py build/demo/gallery)
mapfile -t roots <<< "$folders"
roots=("$(pwd)/examples/images" "${roots[@]}")
printf '   %s\n' "${roots[@]}"

echo "== index it into $db with $model"
# An index belongs to one model; when the bundled model has changed since the
# last demo run, the demo's own index is rebuilt rather than refused.
stamp="$db.model-sha256"
sum=$(sha256sum "$model" | cut -d' ' -f1)
if [ -d "$db" ] && [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  echo "demo: $model differs from the model of $db; rebuilding it"
  rm -rf "$db"
fi
"$cerebro" --db "$db" --model "$model" index "${roots[@]}"
echo "$sum" > "$stamp"

echo "== search"
# The example searches come from the default model's evaluation: queries that
# found their emoji first in a style the model never saw (models/demo-queries.txt
# says how they were chosen). A nonsense query shows the relevance cutoff.
mapfile -t queries < <(grep -v '^#' models/demo-queries.txt | grep .)
for q in "${queries[@]}" "zxqv blorp"; do
  echo "-- \"$q\""
  "$cerebro" --db "$db" --model "$model" search -k 5 "$q"
done
"$cerebro" --db "$db" --model "$model" info

[ "$serve" -eq 1 ] || exit 0
echo "== serving the search page at http://127.0.0.1:$port/ (Ctrl-C stops)"
exec "$cerebro" --db "$db" --model "$model" serve --host 127.0.0.1 --port "$port" "${roots[@]}"
