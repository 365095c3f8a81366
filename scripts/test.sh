#!/usr/bin/env bash
# Runs every test: installs dependencies, builds (warnings are errors), runs
# CTest (unit, integration, Python), then the C unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, then each libFuzzer target
# for a bounded time. Safe to re-run; build trees are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${CEREBRO_FUZZ_SECONDS:-30}

bash scripts/setup.sh

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_WERROR=ON
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

# The ViT-B/32 cases run the same code paths as the tiny model's and take
# minutes under ASan, so the sanitizer pass uses the tiny model only.
echo "== sanitizer build (ASan + UBSan): C unit tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCEREBRO_SANITIZE=ON -DCEREBRO_WERROR=ON \
  -DCEREBRO_BUILD_BENCH=OFF -DCEREBRO_BUILD_EXAMPLES=OFF
cmake --build build-asan -j"$jobs"
CEREBRO_SKIP_VITB32=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

echo "== fuzzers (${fuzz_seconds}s each)"
# The tokenizer fuzzer loads CLIP's merges from the shared data folder.
export CEREBRO_SHARED_DATA=${CEREBRO_SHARED_DATA:-$(sed -n 's/^CEREBRO_SHARED_DATA:PATH=//p' build/CMakeCache.txt)}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_FUZZ=ON \
  -DBUILD_TESTING=OFF -DCEREBRO_BUILD_BENCH=OFF -DCEREBRO_BUILD_EXAMPLES=OFF
# Only the fuzzers: the object libraries are instrumented for libFuzzer,
# which the shared library itself cannot link.
cmake --build build-fuzz -j"$jobs" --target fuzz_image fuzz_tokenizer fuzz_config
for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
  [ -x "$fuzzer" ] || continue
  name=$(basename "$fuzzer")
  seeds=tests/fuzz/corpus/${name#fuzz_}
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  echo "-- $name"
  "$fuzzer" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$work" $( [ -d "$seeds" ] && echo "$seeds" ) 2>&1 | tail -n 12
done
echo "== all tests passed"
