#!/usr/bin/env bash
# Load check of `cerebro serve` (a benchmark, not a test): wrk against
# /api/search with the queries a typist sends (bench/wrk_search.lua), 64
# connections for 30 s after a 5 s warm-up; prints requests/s, p50/p99
# latency, errors, and the server's RSS before and after (a leak shows as
# growth once the caches are warm).
#
#   bash bench/bench_server.sh [--build DIR] [--db DIR --model PATH] [--duration 30s]
#                              [--serve-opts "--threads 4 ..."] [ROOT...]
#
# Without --db: the demo gallery's index (build/demo/gallery.cerebro, made
# by scripts/demo.sh) when present, else a fresh index of examples/images
# with models/default.pt in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

build=build db="" model=models/default.pt duration=30s connections=64 threads=2
roots=() serve_opts=()
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --serve-opts) read -r -a serve_opts <<< "$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "bench_server: unknown option $1" >&2; exit 2 ;;
    *) roots+=("$1"); shift ;;
  esac
done
cerebro=$build/programs/cerebro
[ -x "$cerebro" ] || { echo "bench_server: no $cerebro (build the cerebro-cli target, or pass --build)" >&2; exit 1; }
command -v wrk > /dev/null || { echo "bench_server: wrk is not installed" >&2; exit 1; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "$db" ] && [ -d build/demo/gallery.cerebro ]; then
  db=build/demo/gallery.cerebro
  [ ${#roots[@]} -gt 0 ] || roots=(build/demo/gallery examples/images)
fi
if [ -z "$db" ]; then
  db=$tmp/db
  cp -r examples/images "$tmp/images"
  "$cerebro" --db "$db" --model "$model" index "$tmp/images" > /dev/null
  [ ${#roots[@]} -gt 0 ] || roots=("$tmp/images")
fi

"$cerebro" --db "$db" --model "$model" info | sed 's/^/  /'
"$cerebro" --db "$db" --model "$model" serve --port 0 ${serve_opts[@]+"${serve_opts[@]}"} "${roots[@]}" > "$tmp/out" 2> "$tmp/access.log" &
pid=$!
for _ in $(seq 600); do
  grep -q '^listening on' "$tmp/out" 2> /dev/null && break
  kill -0 "$pid" 2> /dev/null || { cat "$tmp/access.log" >&2; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$tmp/out")
[ -n "$url" ] || { echo "bench_server: the server did not start" >&2; exit 1; }
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }

echo "server $url (pid $pid), $(nproc) CPUs; RSS after start: $(rss)"
wrk -t"$threads" -c"$connections" -d5s -s bench/wrk_search.lua "$url" > /dev/null
before=$(rss)
echo "RSS after a 5 s warm-up: $before"
echo "wrk -t$threads -c$connections -d$duration --latency -s bench/wrk_search.lua $url"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -s bench/wrk_search.lua "$url" | tee "$tmp/wrk"
after=$(rss)
line=$(grep '^BENCH ' "$tmp/wrk")
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
errors=$(( $(get errors_connect) + $(get errors_read) + $(get errors_write) + $(get errors_status) + $(get errors_timeout) ))
echo
echo "== cerebro serve under wrk ($connections connections, $duration)"
printf '  requests/s   %s\n' "$(get rps)"
printf '  latency      p50 %s ms, p90 %s ms, p99 %s ms, max %s ms\n' "$(get p50_ms)" "$(get p90_ms)" "$(get p99_ms)" "$(get max_ms)"
printf '  errors       %s (connect %s, read %s, write %s, non-2xx %s, timeout %s)\n' "$errors" \
  "$(get errors_connect)" "$(get errors_read)" "$(get errors_write)" "$(get errors_status)" "$(get errors_timeout)"
printf '  RSS          %s before, %s after\n' "$before" "$after"
printf '  access log   %s lines\n' "$(wc -l < "$tmp/access.log")"
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
echo "  SIGTERM      exit $rc"
pid=""
