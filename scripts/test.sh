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
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_FUZZ=ON \
  -DBUILD_TESTING=OFF -DCEREBRO_BUILD_BENCH=OFF -DCEREBRO_BUILD_EXAMPLES=OFF
# Only the fuzzers: the object libraries are instrumented for libFuzzer,
# which the shared library itself cannot link.
fuzzers="fuzz_image fuzz_tokenizer fuzz_config fuzz_webp fuzz_gif fuzz_tiff fuzz_bmp fuzz_heif fuzz_jxl fuzz_raw"
cmake --build build-fuzz -j"$jobs" --target $fuzzers
# Every seed first (the crashes fixed so far live in the seed corpora).
ctest --test-dir build-fuzz/tests/fuzz --output-on-failure
# libFuzzer writes crash-/leak-/timeout-/oom- files into the working
# directory unless told otherwise: keep them in the build folder.
mkdir -p build-fuzz/artifacts
for name in $fuzzers; do
  seeds=tests/fuzz/corpus/${name#fuzz_}
  work=build-fuzz/corpus/$name
  log=build-fuzz/$name.log
  mkdir -p "$work"
  echo "-- $name"
  status=0
  build-fuzz/tests/fuzz/$name -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$name-" "$work" "$seeds" \
    >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 100 "$log"
    echo "== FAILED: $name exited with status $status (full log: $log)" >&2
    grep -h 'Test unit written to' "$log" | sed "s|.*written to |== reproduce: build-fuzz/tests/fuzz/$name |" >&2 || true
    exit 1
  fi
  tail -n 12 "$log"
done
echo "== all tests passed"
