#!/usr/bin/env bash
# Every benchmark in one go, and one table of its figures: each figure next to
# the reference it is measured against in the same run (PyTorch, PIL,
# torchvision, CLIP's Python tokenizer, exact search...) and the ratio
# (> 1: libcerebro is faster or better). Not a test; nothing here asserts.
#
#   bash bench/run-all.sh [--build DIR] [--quick] [--out FILE.md] [--only LIST]
#
# --quick   shorter measurements and smaller sets (about 8 minutes on 2 idle
#           cores instead of about 13, measured 2026-12-06); figures are noisier
# --out     also write the table, with the machine it came from, as Markdown
#           (what the README's Benchmarks section shows)
# --only    comma-separated subset of: preprocess,thumbnail,tokenizer,model,
#           import,index,ann,hash,video
# Each bench's full output is kept in the log folder it names at the end.
# Run it on a quiet machine: other load moves every figure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
quick=0
out=
only=preprocess,thumbnail,tokenizer,model,import,index,ann,hash,video
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(realpath "$2"); shift 2 ;;
    --quick) quick=1; shift ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run-all: unknown option $1" >&2; exit 2 ;;
  esac
done
py=/usr/bin/python3
work=$(mktemp -d /tmp/cerebro-bench.XXXXXX)
logs=$work/logs
mkdir -p "$logs"
export CEREBRO_BENCH_ROWS=$work/rows.tsv
: > "$CEREBRO_BENCH_ROWS"
cd "$root"

if [ ! -x "$build/bench/bench_model" ]; then
  echo "== building the benchmarks in $build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_BUILD_BENCH=ON > "$logs/cmake.txt"
  cmake --build "$build" -j"$(nproc)" >> "$logs/cmake.txt"
fi

wanted() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
run() { # name command...: the command's output goes to the log and the screen
  local name=$1; shift
  echo "== $name: $*"
  local t0=$SECONDS
  if "$@" 2>&1 | tee "$logs/$name.txt"; then
    echo "   ($((SECONDS - t0)) s)"
  else
    echo "run-all: $name failed (log: $logs/$name.txt); going on" >&2
  fi
}

if [ "$quick" = 1 ]; then s=1; rounds=1; else s=3; rounds=3; fi
load0=$(cut -d' ' -f1 /proc/loadavg)

# Random-weight bundles at real sizes: speed does not depend on the weights.
vitb32=$work/vitb32.pt
tiny=$work/tiny.pt
merges=$root/third_party/clip/bpe_simple_vocab_16e6.txt.gz
if wanted model || wanted index; then
  $py training/make_test_bundle.py --preset vitb32 --seed 0 --out "$vitb32" --merges "$merges" > /dev/null
  $py training/make_test_bundle.py --preset tiny --seed 0 --out "$tiny" --merges "$merges" > /dev/null
fi

wanted preprocess && run preprocess $py bench/bench_preprocess.py --build "$build" --seconds $s --rounds $rounds
wanted thumbnail && run thumbnail $py bench/bench_thumbnail.py --build "$build" --seconds $s --rounds $rounds
wanted tokenizer && run tokenizer $py bench/bench_tokenizer.py --build "$build" --seconds $((s > 1 ? 2 : 1))
wanted model && run model $py bench/bench_model.py --build "$build" --bundle "$vitb32" --seconds $s \
  --rounds $rounds --batch 8
wanted import && run import $py bench/bench_import.py --build "$build" --models vitb32 --rounds $rounds
if wanted index; then
  # The tiny bundle: there the pipeline, not the model, sets the pace.
  if [ "$quick" = 1 ]; then sizes=(--small 400 --large 8 --files 2000 --vectors 20000); else sizes=(); fi
  run index $py bench/bench_index.py --build "$build" --tiny "$tiny" --rounds $rounds \
    --work "$work/index" --seconds $s "${sizes[@]}"
  run remove $py bench/bench_remove.py --build "$build"
fi
if wanted ann; then
  n=100000
  run ann "$build/bench/bench_ann" --n $n --uniform --flat-n $n
  # bench_ann's table: auto structure, tuned, and exact Flat at the same size.
  awk -v n=$n 'f && NF == 8 { s[++i] = $1; r[i] = $5; p[i] = $7 }
    /^structure/ { f = 1 }
    END { if (i >= 3) {
      printf "ANN\t%s uniform 512-d: recall@10 of %s after tuning\trecall@10\ttarget\t0.95\t%s\t%.4g\n", n, s[2], r[2], r[2] / 0.95
      printf "ANN\t%s uniform 512-d: search p50, %s vs exact\tms/query\t%s\t%s\t%s\t%.4g\n", n, s[2], s[3], p[3], p[2], p[3] / p[2] } }' \
    "$logs/ann.txt" >> "$CEREBRO_BENCH_ROWS"
fi
if wanted hash; then
  run hash "$build/bench/bench_hash" --rounds $((rounds * 2 + 1))
  awk '$1 ~ /^[0-9]+$/ && NF == 4 { printf "hash\tSHA-256 of %s bytes\tMB/s\tportable C (FIPS 180-4)\t%s\t%s\t%.4g\n", $1, $2, $3, $3 / $2 }' \
    "$logs/hash.txt" >> "$CEREBRO_BENCH_ROWS"
fi
if wanted video && [ -x "$build/bench/bench_video" ] && command -v ffmpeg > /dev/null; then
  run video $py bench/bench_video.py --build "$build" --work "$work/video"
fi

cpu=$(LC_ALL=C lscpu | sed -n 's/^Model name: *//p' | head -1)
{
  echo "Measured $(date -u +'%Y-%m-%d %H:%M UTC') by \`bash bench/run-all.sh$([ "$quick" = 1 ] && echo ' --quick')\`"
  echo "at commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), on $cpu, $(nproc) cores;"
  echo "load average $load0 at start, $(cut -d' ' -f1 /proc/loadavg) at the end. Ratio > 1: libcerebro ahead."
  echo
  $py bench/rows.py --table "$CEREBRO_BENCH_ROWS"
} > "$work/table.md"
echo
cat "$work/table.md"
[ -n "$out" ] && cp "$work/table.md" "$out"
echo
echo "logs: $logs"
