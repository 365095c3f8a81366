#!/usr/bin/env bash
# Soak check of `cerebro serve` (a benchmark, not a test): wrk for a long
# time (30 minutes by default) with mixed requests (bench/wrk_mixed.lua:
# searches, "more like this", thumbnails at many sizes, whole images and
# ranges), every one carrying the access token, while the server's resident
# memory, open descriptors, threads and open connections are sampled at a
# fixed interval. Prints the samples as a table, then wrk's totals and the
# growth from the first sample after the warm-up to the last under load
# (and one sample once wrk has stopped): a leak of memory or descriptors
# shows as growth that does not level off.
#
#   bash bench/soak_server.sh [--build DIR] [--db DIR --model PATH] [--duration 30m]
#                             [--interval 60] [--warmup 120] [--connections 32]
#                             [--serve-opts "--threads 4 ..."] [ROOT...]
#
# --duration takes wrk's units (s, m, h); --interval and --warmup are
# seconds. Without --db: as bench_server.sh (the demo gallery, else the
# sample images). Exits 1 when any request failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=bench/serve_common.sh
. bench/serve_common.sh
duration=30m connections=32 interval=60 warmup=120 threads=2
while [ $# -gt 0 ]; do
  serve_option "$@"
  [ "$shifted" -gt 0 ] && { shift "$shifted"; continue; }
  case $1 in
    --interval) interval=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "soak_server: unknown option $1" >&2; exit 2 ;;
  esac
done
case $duration in
  *h) seconds=$((${duration%h} * 3600)) ;;
  *m) seconds=$((${duration%m} * 60)) ;;
  *s) seconds=${duration%s} ;;
  *) seconds=$duration ;;
esac
command -v curl > /dev/null || { echo "soak_server: curl is not installed" >&2; exit 1; }

token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export CEREBRO_SERVE_TOKEN=$token
serve_opts=(--max-per-client "$((connections + 16))" ${serve_opts[@]+"${serve_opts[@]}"})
name=soak_server
# Half an hour at 10k requests/s is a 1 GB access log: it is written (the
# server's real path) but not kept.
access_log=/dev/null
serve_start
unset CEREBRO_SERVE_TOKEN

api() { curl -sS -H "Authorization: Bearer $token" "$url${1#/}"; }
ids=$(api "/api/search?q=anything&k=200&min=0" | grep -o '"id":[0-9]*' | cut -d: -f2 | paste -sd, -)
[ -n "$ids" ] || { echo "soak_server: the index has no items" >&2; exit 1; }
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }
threads_of() { awk '/^Threads/ {print $2}' "/proc/$pid/status"; }
open_connections() { api /api/stats | grep -o '"open":[0-9]*' | cut -d: -f2; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }

echo "server $url (pid $pid), $(nproc) CPUs, $(echo "$ids" | tr , '\n' | wc -l) items; wrk -t$threads -c$connections -d$duration"
echo "wrk -t$threads -c$connections -d$duration --timeout 10s -s bench/wrk_mixed.lua $url"
CEREBRO_SOAK_IDS=$ids CEREBRO_SOAK_TOKEN=$token \
  wrk -t"$threads" -c"$connections" -d"$duration" --timeout 10s -s bench/wrk_mixed.lua "$url" > "$tmp/wrk" 2>&1 &
wrk_pid=$!
start=$SECONDS
printf '%8s %10s %6s %8s %12s\n' "t_s" "rss_kB" "fds" "threads" "connections" | tee "$tmp/samples"
sample() { printf '%8d %10d %6d %8d %12s\n' "$((SECONDS - start))" "$(rss_kb)" "$(fds)" "$(threads_of)" "$(open_connections)"; }
sample | tee -a "$tmp/samples"
while kill -0 "$wrk_pid" 2> /dev/null; do
  # Sleep in short steps so the end of wrk is seen at once.
  next=$((SECONDS + interval))
  while [ $SECONDS -lt $next ] && kill -0 "$wrk_pid" 2> /dev/null; do sleep 1; done
  kill -0 "$pid" 2> /dev/null || { echo "soak_server: the server died" >&2; exit 1; }
  kill -0 "$wrk_pid" 2> /dev/null && sample | tee -a "$tmp/samples"
done
wait "$wrk_pid" || { cat "$tmp/wrk" >&2; exit 1; }
line=$(grep '^SOAK ' "$tmp/wrk")
get() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
errors=$(( $(get errors_connect) + $(get errors_read) + $(get errors_write) + $(get errors_timeout) + $(get errors_status) ))
# Growth after the warm-up: the first sample at or after it against the last.
read -r w_t w_rss w_fds _ < <(awk -v w="$warmup" 'NR > 1 && $1 >= w {print; exit}' "$tmp/samples")
read -r l_t l_rss l_fds _ < <(tail -n 1 "$tmp/samples")
echo "after wrk: $(sample)"
echo
echo "== cerebro serve soaked ($connections connections, $duration, $seconds s)"
printf '  requests     %s (%s/s), statuses %s\n' "$(get requests)" "$(get rps)" "$(get statuses)"
printf '  latency      p50 %s ms, p99 %s ms, max %s ms\n' "$(get p50_ms)" "$(get p99_ms)" "$(get max_ms)"
printf '  errors       %s (connect %s, read %s, write %s, timeout %s, status not 200/206 %s)\n' "$errors" \
  "$(get errors_connect)" "$(get errors_read)" "$(get errors_write)" "$(get errors_timeout)" "$(get errors_status)"
if [ -n "${w_t:-}" ]; then
  printf '  after warm-up (t=%s s -> %s s): RSS %+d kB (%s -> %s), descriptors %+d (%s -> %s)\n' "$w_t" "$l_t" \
    "$((l_rss - w_rss))" "$w_rss" "$l_rss" "$((l_fds - w_fds))" "$w_fds" "$l_fds"
fi
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
echo "  SIGTERM      exit $rc"
pid=""
[ "$errors" -eq 0 ] && [ "$rc" -eq 0 ]
