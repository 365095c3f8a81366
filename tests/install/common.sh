# shellcheck shell=bash
# Shared by the install checks (sourced): a temporary folder removed on exit,
# an environment with nothing that points at the build, and the check of an
# installed cerebro program.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset LD_LIBRARY_PATH CEREBRO_LIBRARY CEREBRO_MODEL CEREBRO_DB PYTHONPATH NODE_PATH

# check_cerebro PROGRAM LIBDIR MODEL IMAGE...: PROGRAM starts with no
# LD_LIBRARY_PATH, loads LIBDIR/libcerebro.so.0, and indexes the images
# without --model with MODEL, the default model installed beside it.
check_cerebro() {
  local cerebro=$1 libdir=$2 model=$3 work loaded used
  shift 3
  "$cerebro" --help > "$tmp/help.txt" || fail "$cerebro does not start without LD_LIBRARY_PATH"
  grep -q '^usage: cerebro' "$tmp/help.txt" || fail "$cerebro --help: $(head -n 3 "$tmp/help.txt")"
  loaded=$(ldd "$cerebro" | awk '$1 == "libcerebro.so.0" {print $3}')
  [ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$libdir/libcerebro.so.0")" ] ||
    fail "$cerebro loads libcerebro from '$loaded', not from $libdir"
  work=$(mktemp -d -p "$tmp")
  (cd "$work" && "$cerebro" index "$@" > index.log 2>&1) ||
    fail "$cerebro index with its default model: $(cat "$work/index.log")"
  used=$(cd "$work" && "$cerebro" info --json |
         /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["model_path"])')
  [ "$used" = "$(realpath "$model")" ] || fail "$cerebro used the model '$used', not $model"
}
