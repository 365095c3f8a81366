#!/usr/bin/env bash
# ThreadSanitizer pass over the code where threads meet: builds build-tsan
# (CEREBRO_TSAN=ON: the library, the tests and the cerebro program
# instrumented) and runs the server's tests (request threads, workers,
# the connection guard, the caches, another process indexing while it
# serves) and check_index (searches on four threads while the same handle
# indexes). A data race, a lock-order inversion or a thread leak fails the
# run (halt_on_error: the process exits 66 at the first report).
#
#   bash scripts/tsan.sh
#
# scripts/test.sh runs it after the ASan pass.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_TSAN=ON -DCEREBRO_WERROR=ON \
  -DCEREBRO_BUILD_BENCH=OFF -DCEREBRO_BUILD_EXAMPLES=OFF
cmake --build build-tsan -j"$jobs"
# tests/tsan.supp: what the uninstrumented libraries do out of TSan's sight.
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1"
ctest --test-dir build-tsan --output-on-failure -R '^(cerebro_server|cerebro_server_network|check_index)$'
echo "== ThreadSanitizer: no report"
