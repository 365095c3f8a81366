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

# shellcheck source=bench/serve_common.sh
. bench/serve_common.sh
threads=2
while [ $# -gt 0 ]; do
  serve_option "$@"
  [ "$shifted" -gt 0 ] && { shift "$shifted"; continue; }
  case $1 in
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "bench_server: unknown option $1" >&2; exit 2 ;;
  esac
done
# wrk's connections all come from one address: the server's limit per
# client (--max-per-client) is raised to let them in; options given in
# --serve-opts come later and win.
serve_opts=(--max-per-client "$((connections + 16))" ${serve_opts[@]+"${serve_opts[@]}"})
name=bench_server
serve_start

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
