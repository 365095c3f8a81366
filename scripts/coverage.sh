#!/usr/bin/env bash
# Line and branch coverage of lib/ by the test suite: configures build-coverage
# with -DCEREBRO_COVERAGE=ON (gcc --coverage, -O0), builds, runs CTest and
# prints one line per lib/ folder (core, image, text, model, video, index)
# plus the total. The HTML report lands in build-coverage/coverage/html.
#
# Left out by default (CEREBRO_COVERAGE_EXCLUDE, a ctest -E regex): the
# install_* tests, which build and install a second copy of the project
# outside build-coverage (their coverage files would land elsewhere);
# python_training, which trains models in Python and runs no lib/ code; and
# index_kill, whose indexing children are SIGKILLed and so never write their
# counts, while it takes about 14 of this script's minutes on two busy cores.
# CEREBRO_COVERAGE_EXCLUDE='' runs everything. The ViT-B/32 model cases
# (check_model_vitb32) run the tiny model's code paths on a 150 MB model and
# take many minutes here: they are skipped, and ctest lists them as skipped,
# unless CEREBRO_SKIP_VITB32= (empty) is given.
#
#   bash scripts/coverage.sh            # configure, build, test, report
#   bash scripts/coverage.sh --report   # report on the counters already there
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${CEREBRO_COVERAGE_BUILD:-build-coverage}
jobs=${CEREBRO_COVERAGE_JOBS:-$(nproc)}
exclude=${CEREBRO_COVERAGE_EXCLUDE-'^(install_.*|python_training|index_kill)$'}
out=$build/coverage
areas="core image text model video index"
export CEREBRO_SKIP_VITB32=${CEREBRO_SKIP_VITB32-1}
[ -n "$CEREBRO_SKIP_VITB32" ] || unset CEREBRO_SKIP_VITB32
# gcc counts the branches C++ exception unwinding takes: lib/model's shim
# into libtorch has many, which no test can take, so its branch figure reads
# low next to its line figure.
lcov_rc=(--rc lcov_branch_coverage=1)

command -v lcov >/dev/null || { echo "coverage: lcov is missing (bash scripts/setup.sh)" >&2; exit 1; }

if [ "${1:-}" != "--report" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCEREBRO_COVERAGE=ON -DCEREBRO_WERROR=ON \
    -DCEREBRO_BUILD_BENCH=OFF
  cmake --build "$build" -j"$jobs"
  lcov --quiet "${lcov_rc[@]}" --zerocounters --directory "$build"
  mkdir -p "$out"
  # Every instrumented file at zero first, so a file no test loads counts
  # as uncovered instead of vanishing from the totals.
  lcov --quiet "${lcov_rc[@]}" --capture --initial --directory "$build" --output-file "$out/base.info"
  status=0
  ctest --test-dir "$build" --output-on-failure -j"$jobs" ${exclude:+-E "$exclude"} || status=$?
  [ "$status" -eq 0 ] || echo "coverage: some tests failed (ctest status $status); the figures below still count what ran" >&2
fi

mkdir -p "$out"
lcov --quiet "${lcov_rc[@]}" --capture --directory "$build" --output-file "$out/tests.info"
args=(--add-tracefile "$out/tests.info")
[ -f "$out/base.info" ] && args+=(--add-tracefile "$out/base.info")
lcov --quiet "${lcov_rc[@]}" "${args[@]}" --output-file "$out/all.info"
lcov --quiet "${lcov_rc[@]}" --extract "$out/all.info" "$root/lib/*" --output-file "$out/lib.info"

# "lines......: 87.1% (1234 of 1417 lines)" -> "87.1% (1234/1417)"
figure() {
  sed -n "s/^ *$1\.*: \([0-9.]*%\) (\([0-9]*\) of \([0-9]*\) .*/\1 (\2\/\3)/p" <<<"$2"
}
printf '%-10s %-22s %-22s\n' folder lines branches
for area in $areas total; do
  if [ "$area" = total ]; then
    info=$out/lib.info label=total
  else
    info=$out/$area.info label=lib/$area
    lcov --quiet "${lcov_rc[@]}" --extract "$out/lib.info" "$root/lib/$area/*" --output-file "$info"
  fi
  summary=$(lcov "${lcov_rc[@]}" --summary "$info" 2>&1)
  printf '%-10s %-22s %-22s\n' "$label" "$(figure lines "$summary")" "$(figure branches "$summary")"
done
if command -v genhtml >/dev/null; then
  genhtml --quiet "${lcov_rc[@]}" --prefix "$root" "$out/lib.info" --output-directory "$out/html" >/dev/null
  echo "coverage: per-file report in $out/html/index.html"
fi
