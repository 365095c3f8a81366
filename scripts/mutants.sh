#!/usr/bin/env bash
# Mutation check: applies each mutant of scripts/mutants.txt, one at a time,
# to a scratch copy of the tree, rebuilds it incrementally, runs the ctest
# tests that must kill it, and prints a killed/survived table. Exit 1 when a
# mutant survives (or does not apply, or does not build, or a test fails
# before any mutation). The checkout itself is never modified.
#
#   bash scripts/mutants.sh [NAME-REGEX]     # only the mutants whose name matches
#
# Environment: MUTANTS_DIR (default build-mutants: the copy in src/, its build
# in src/build, laid out like a build folder of the checkout so ccache's
# relative paths hit), MUTANTS_JOBS (default 2). Each mutant's build and test output
# is kept in MUTANTS_DIR/logs/<name>.log.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
list=$root/scripts/mutants.txt
work=${MUTANTS_DIR:-$root/build-mutants}
jobs=${MUTANTS_JOBS:-2}
only=${1:-}
src=$work/src
build=$src/build
logs=$work/logs

mkdir -p "$src" "$build" "$logs"
# The copy: tracked and untracked files that git does not ignore, with their
# mtimes, so a second run rebuilds only what changed since.
git -C "$root" ls-files -z -co --exclude-standard |
    (cd "$root" && tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$src" -xpf -

# ccache, when there is one, makes the first build and each rebuild cheap.
launcher=()
if command -v ccache >/dev/null; then
    export CCACHE_BASEDIR=$src
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCEREBRO_WERROR=ON "${launcher[@]}" \
    >"$logs/configure.log" 2>&1 || { echo "configure failed: $logs/configure.log"; exit 1; }

# Reads the list: name, file, original, replacement, test regex, separated by
# single tabs (no field may be empty: read folds a run of tabs into one);
# \t and \n in the texts stand for a tab and a newline.
names=() files=() origs=() repls=() tests=()
while IFS=$'\t' read -r name file orig repl regex rest; do
    case $name in '' | '#'*) continue ;; esac
    if [ -z "$regex" ] || [ -n "${rest:-}" ]; then
        echo "mutants.txt: '$name' needs exactly 5 tab-separated fields"
        exit 1
    fi
    [ -n "$only" ] && ! [[ $name =~ $only ]] && continue
    names+=("$name") files+=("$file") origs+=("$orig") repls+=("$repl") tests+=("$regex")
done <"$list"
[ ${#names[@]} -gt 0 ] || { echo "no mutant matches '$only'"; exit 1; }

# Replaces the one occurrence of orig by repl in file (exit 2: not exactly once).
mutate() {
    python3 - "$1" "$2" "$3" <<'EOF'
import sys
path, orig, repl = sys.argv[1:]
unescape = lambda s: s.replace("\\t", "\t").replace("\\n", "\n")
orig, repl = unescape(orig), unescape(repl)
text = open(path, encoding="utf-8").read()
if text.count(orig) != 1:
    sys.stderr.write(f"{path}: the original text occurs {text.count(orig)} times, not once\n")
    sys.exit(2)
open(path, "w", encoding="utf-8").write(text.replace(orig, repl))
EOF
}

build_tree() { nice -n 5 cmake --build "$build" -j "$jobs" >>"$1" 2>&1; }
# -FS: the fixtures (the tiny model bundles) were made by the baseline run and
# do not depend on lib/; remaking them for every mutant would only cost time.
run_tests() { nice -n 5 ctest --test-dir "$build" -R "$1" ${2:+-FS .} --no-tests=error --output-on-failure >>"$3" 2>&1; }

echo "building the unmutated copy in $build"
build_tree "$logs/baseline.log" || { echo "the unmutated copy does not build: $logs/baseline.log"; exit 1; }
# Every test must pass before mutation, or a 'killed' would mean nothing.
all=$(printf '%s\n' "${tests[@]}" | sort -u | paste -sd'|')
if ! run_tests "$all" "" "$logs/baseline.log"; then
    echo "tests fail on the unmutated copy: $logs/baseline.log"
    exit 1
fi

# Puts the mutated file back, also when the run is interrupted: a copy is
# newer than the mutant's objects, so the next build recompiles it (the tar
# above would restore the checkout's older mtime and leave them stale).
mutated=
restore() {
    if [ -n "$mutated" ]; then
        cp "$work/original" "$src/$mutated"
        mutated=
    fi
}
trap restore EXIT
trap 'restore; exit 130' INT TERM

status=0
results=()
for i in "${!names[@]}"; do
    name=${names[$i]} file=${files[$i]} log=$logs/${names[$i]}.log
    : >"$log"
    cp "$src/$file" "$work/original"
    mutated=$file
    start=$(date +%s)
    if ! mutate "$src/$file" "${origs[$i]}" "${repls[$i]}" 2>>"$log"; then
        result="NOT APPLIED"
    elif ! build_tree "$log"; then
        result="NO BUILD"
    elif run_tests "${tests[$i]}" fs "$log"; then
        result="SURVIVED"
    elif grep -q 'No tests were found' "$log"; then
        result="NO TESTS"
    else
        result="killed"
    fi
    restore
    [ "$result" = killed ] || status=1
    results+=("$(printf '%-28s %-12s %4ss  %s  (ctest -R %s)' "$name" "$result" $(($(date +%s) - start)) "$file" "${tests[$i]}")")
    echo "${results[-1]}"
done
build_tree "$logs/restore.log" || true

echo
printf '%-28s %-12s %5s  %s\n' mutant result time "file (tests)"
printf '%s\n' "${results[@]}"
killed=$(printf '%s\n' "${results[@]}" | awk '$2 == "killed"' | wc -l)
echo "$killed of ${#names[@]} mutants killed"
exit $status
