#!/usr/bin/env bash
# Installs the build into a temporary prefix and builds the examples out of
# tree against it twice, as outside users do: with pkg-config and with
# CMake's find_package(cerebro CONFIG). Both programs must run.
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
libdir=$(find "$prefix" -name 'libcerebro.so.0' -printf '%h\n' | head -n 1)
[ -n "$libdir" ] || { echo "FAIL: libcerebro.so.0 not installed"; exit 1; }
test -f "$prefix/include/cerebro/cerebro.h"
test -f "$libdir/pkgconfig/cerebro.pc"
test -f "$libdir/cmake/cerebro/cerebroConfig.cmake"
test -f "$libdir/cmake/cerebro/cerebroConfigVersion.cmake"

# pkg-config: public flags only, dependencies private.
export PKG_CONFIG_PATH=$libdir/pkgconfig
# The .pc file is relocatable (paths relative to ${pcfiledir}).
flags=$(pkg-config --cflags --libs cerebro)
case "$flags" in *"$prefix"*) ;; *) echo "FAIL: flags do not point into $prefix: $flags"; exit 1;; esac
case "$flags" in *torch*|*faiss*|*turbojpeg*) echo "FAIL: private deps in public flags: $flags"; exit 1;; esac
pkg-config --print-requires-private cerebro | grep -q libturbojpeg
cc -std=c99 -Wall -Wextra -Werror "$src/examples/preprocess.c" $flags -o "$tmp/pc-preprocess"
LD_LIBRARY_PATH=$libdir "$tmp/pc-preprocess" --version | grep -q "libcerebro $(pkg-config --modversion cerebro)"

# CMake package.
cmake -S "$src/examples" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cmake.log"
cmake --build "$tmp/cmake-build" > "$tmp/build.log"
"$tmp/cmake-build/cerebro-preprocess" --version | grep -q "libcerebro"
echo "installed package works with pkg-config ($flags) and find_package"
