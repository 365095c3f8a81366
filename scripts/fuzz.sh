#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, build-fuzz/), replays
# every seed corpus, then runs each target for a bounded time.
#
#   bash scripts/fuzz.sh                     every target, 30 s each
#   CEREBRO_FUZZ_SECONDS=600 CEREBRO_FUZZ_JOBS=2 bash scripts/fuzz.sh fuzz_webp fuzz_gif
#
# CEREBRO_FUZZ_SECONDS: seconds per target (default 30).
# CEREBRO_FUZZ_JOBS: targets run at once (default 1; each uses one core).
# A crash, leak, timeout (10 s for one input) or out-of-memory (2 GiB) stops
# the script with the reproducer's command line. scripts/test.sh calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${CEREBRO_FUZZ_SECONDS:-30}
parallel=${CEREBRO_FUZZ_JOBS:-1}
all="fuzz_image fuzz_tokenizer fuzz_config fuzz_webp fuzz_gif fuzz_tiff fuzz_bmp fuzz_heif fuzz_jxl fuzz_raw fuzz_http"
fuzzers=${*:-$all}

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_FUZZ=ON \
  -DBUILD_TESTING=OFF -DCEREBRO_BUILD_BENCH=OFF -DCEREBRO_BUILD_EXAMPLES=OFF
# Only the fuzzers: the object libraries are instrumented for libFuzzer,
# which the shared library itself cannot link.
# shellcheck disable=SC2086
cmake --build build-fuzz -j"$(nproc)" --target $fuzzers
# Leaks inside Debian's own libraries that no call of ours can avoid
# (tests/fuzz/lsan.supp says which and why).
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp
# Every seed first (the crashes fixed so far live in the seed corpora).
ctest --test-dir build-fuzz/tests/fuzz --output-on-failure -R "^($(echo $fuzzers | tr ' ' '|'))_seeds\$"
# libFuzzer writes crash-/leak-/timeout-/oom- files into the working
# directory unless told otherwise: keep them in the build folder.
mkdir -p build-fuzz/artifacts

# One target: its log in build-fuzz/NAME.log; non-zero on any finding.
# A timeout (one input over 10 s) is replayed alone: an input that finishes
# within the limit on its own was held up by the machine, not by a hang (two
# such stalls inside ASan's free() were seen on this shared 2-core machine
# under a load of 8, each input taking under 70 ms when replayed); the run
# then goes on from where it was. Crashes, leaks and out-of-memory always fail.
run_one() {
  local name=$1 seeds=(tests/fuzz/corpus/${1#fuzz_}) work=build-fuzz/corpus/$1
  local log=build-fuzz/$1.log status=0 left=$seconds start unit stalls=0
  # The sniffing target starts from every format's seeds.
  [ "$name" = fuzz_image ] && seeds+=(tests/fuzz/corpus/{webp,gif,tiff,bmp,heif,jxl,raw})
  mkdir -p "$work"
  : >"$log"
  while [ "$left" -gt 0 ]; do
    start=$SECONDS status=0
    build-fuzz/tests/fuzz/"$name" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$name-" "$work" "${seeds[@]}" \
      >>"$log" 2>&1 || status=$?
    [ "$status" -eq 0 ] && break
    unit=$(grep -h 'Test unit written to' "$log" | tail -n 1 | sed 's/.*written to //')
    if [ "$stalls" -lt 3 ] && [[ "$unit" == *-timeout-* ]] &&
      build-fuzz/tests/fuzz/"$name" -timeout=10 -rss_limit_mb=2048 "$unit" >>"$log" 2>&1; then
      stalls=$((stalls + 1))
      echo "-- $name: $unit timed out in the run but not alone (a stall of the machine); going on" >>"$log"
      left=$((left - (SECONDS - start)))
      continue
    fi
    tail -n 100 "$log"
    echo "== FAILED: $name exited with status $status (full log: $log)" >&2
    [ -n "$unit" ] && echo "== reproduce: build-fuzz/tests/fuzz/$name $unit" >&2
    return 1
  done
  echo "-- $name: $(grep -h '^stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s}') inputs" \
    "in ${seconds}s, $(find "$work" -type f | wc -l) in its corpus, no finding" \
    "$([ "$stalls" -gt 0 ] && echo "($stalls timeouts not reproducible alone, see $log)")"
}
export -f run_one
export seconds

echo "== fuzzers (${seconds}s each, $parallel at a time)"
# shellcheck disable=SC2086
printf '%s\n' $fuzzers | xargs -P "$parallel" -I{} bash -c 'run_one {}'
echo "== fuzzers: no finding"
