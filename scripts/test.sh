#!/usr/bin/env bash
# Runs every test: installs dependencies, builds (warnings are errors), runs
# CTest (unit, integration, Python), then the C unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, the server's tests and the
# concurrent index test under ThreadSanitizer, then each libFuzzer target
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
# tests/fuzz/lsan.supp: a leak inside Debian's libdav1d that no call of ours can avoid.
CEREBRO_SKIP_VITB32=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs"

# The server's tests and check_index under ThreadSanitizer (about 15 min of
# build and tests on 2 cores).
echo "== ThreadSanitizer build: server and concurrent index tests"
bash scripts/tsan.sh

# Each libFuzzer target for CEREBRO_FUZZ_SECONDS (default 30) after its seeds.
CEREBRO_FUZZ_SECONDS=$fuzz_seconds bash scripts/fuzz.sh
echo "== all tests passed"
