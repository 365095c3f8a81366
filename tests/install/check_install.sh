#!/usr/bin/env bash
# Installs the build into a temporary prefix (`cmake --install`) and uses it
# as outside users do:
#   - the installed cerebro program starts with no LD_LIBRARY_PATH (its
#     RUNPATH is relative), loads the installed library and finds the
#     installed default model by itself;
#   - the examples build out of tree against the prefix twice, with
#     pkg-config and with CMake's find_package(cerebro CONFIG), and run:
#     cerebro-search indexes examples/images with models/default.pt and must
#     rank the frog first for "a frog".
#   check_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
# shellcheck source=tests/install/common.sh
. "$(dirname "$0")/common.sh"
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
libdir=$(find "$prefix" -name 'libcerebro.so.0' -printf '%h\n' | head -n 1)
[ -n "$libdir" ] || fail "libcerebro.so.0 not installed"
test -f "$prefix/include/cerebro/cerebro.h"
test -f "$libdir/pkgconfig/cerebro.pc"
test -f "$libdir/cmake/cerebro/cerebroConfig.cmake"
test -f "$libdir/cmake/cerebro/cerebroConfigVersion.cmake"
test -f "$prefix/share/cerebro/default.pt" || fail "the default model is not installed"

# The installed programs: a relative RUNPATH, never a path of this machine.
want_runpath="\$ORIGIN/$(realpath --relative-to="$prefix/bin" "$libdir")"
for program in cerebro cerebro-preprocess cerebro-encode cerebro-search; do
  test -x "$prefix/bin/$program" || fail "$program is not installed"
  runpath=$(readelf -d "$prefix/bin/$program" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]$/\1/p')
  [ "$runpath" = "$want_runpath" ] || fail "$program RUNPATH is '$runpath', want '$want_runpath'"
done
# No --model, no CEREBRO_MODEL: the installed default model, found beside bin/.
check_cerebro "$prefix/bin/cerebro" "$libdir" "$prefix/share/cerebro/default.pt" "$src/examples/images"
"$prefix/bin/cerebro-preprocess" --version | grep -q libcerebro ||
  fail "installed cerebro-preprocess does not start"

# pkg-config: public flags only, dependencies private.
export PKG_CONFIG_PATH=$libdir/pkgconfig
# The .pc file is relocatable (paths relative to ${pcfiledir}).
flags=$(pkg-config --cflags --libs cerebro)
case "$flags" in *"$prefix"*) ;; *) fail "flags do not point into $prefix: $flags";; esac
case "$flags" in *torch*|*faiss*|*turbojpeg*) fail "private deps in public flags: $flags";; esac
pkg-config --print-requires-private cerebro | grep -q libturbojpeg
for example in preprocess encode search; do
  cc -std=c99 -Wall -Wextra -Werror "$src/examples/$example.c" $flags -o "$tmp/pc-$example" ||
    fail "examples/$example.c does not build with pkg-config"
done
LD_LIBRARY_PATH=$libdir "$tmp/pc-preprocess" --version | grep -q "libcerebro $(pkg-config --modversion cerebro)"

# CMake package: every example, unchanged.
cmake -S "$src/examples" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" > "$tmp/cmake.log"
cmake --build "$tmp/cmake-build" > "$tmp/build.log" || { cat "$tmp/build.log"; fail "examples do not build"; }
"$tmp/cmake-build/cerebro-preprocess" --version | grep -q "libcerebro"

# The index-and-search example on the sample pictures. The default model
# ranks the frog first for "a frog" (models/MODEL_CARD.md).
search=$tmp/cmake-build/cerebro-search
"$search" "$src/models/default.pt" "$tmp/search.cerebro" "a frog" "$src/examples/images" \
  > "$tmp/search.out" 2> "$tmp/search.err" || fail "cerebro-search: $(cat "$tmp/search.err")"
grep -q '^indexed 8, updated 0, unchanged 0, failed 0$' "$tmp/search.err" ||
  fail "cerebro-search did not index the 8 sample pictures: $(cat "$tmp/search.err")"
head -n 1 "$tmp/search.out" | grep -Eq '^0\.[0-9]{3}  .*/examples/images/frog\.png$' ||
  fail "cerebro-search: the frog is not first: $(cat "$tmp/search.out")"
[ "$(wc -l < "$tmp/search.out")" -eq 5 ] || fail "cerebro-search: want 5 hits: $(cat "$tmp/search.out")"
# A second run finds everything unchanged; a bad model path is a clear error.
"$search" "$src/models/default.pt" "$tmp/search.cerebro" "a frog" "$src/examples/images" \
  > /dev/null 2> "$tmp/search.err"
grep -q '^indexed 0, updated 0, unchanged 8, failed 0$' "$tmp/search.err" ||
  fail "cerebro-search second run: $(cat "$tmp/search.err")"
if "$search" "$tmp/no-such-model.pt" "$tmp/other.cerebro" "a frog" 2> "$tmp/search.err"; then
  fail "cerebro-search succeeded with a missing model"
fi
grep -q "no-such-model.pt" "$tmp/search.err" || fail "cerebro-search error lacks the path: $(cat "$tmp/search.err")"
echo "installed package works: cerebro (RUNPATH $want_runpath, installed model), pkg-config ($flags), find_package, cerebro-search"
