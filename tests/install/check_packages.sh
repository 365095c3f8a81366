#!/usr/bin/env bash
# Builds the Debian packages of a build folder (cpack -G DEB, as
# `cmake --build <build> --target package` does) into a temporary folder and
# checks them the way a user would meet them: their names, what each holds
# and must not hold, their Depends (computed by dpkg-shlibdeps), the ldconfig
# trigger; then unpacks them into a throwaway root and runs the cerebro
# program from there with no LD_LIBRARY_PATH, using the packaged default
# model, and builds examples/search.c against the unpacked development files.
#   check_packages.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
# shellcheck source=tests/install/common.sh
. "$(dirname "$0")/common.sh"
for tool in cpack dpkg-deb dpkg-shlibdeps file readelf pkg-config; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup.sh installs it)"
done

version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || fail "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt"
arch=$(dpkg --print-architecture)
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" > "$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack failed"; }

# Exactly the three packages, named as Debian names them.
expected="cerebro-tools_${version}-1_${arch}.deb libcerebro-dev_${version}-1_${arch}.deb libcerebro0_${version}-1_${arch}.deb"
found=$(cd "$tmp/out" && ls -1 ./*.deb | sed 's|^\./||' | sort | xargs)
[ "$found" = "$expected" ] || fail "packages: got '$found', want '$expected'"
lib=$tmp/out/libcerebro0_${version}-1_${arch}.deb
dev=$tmp/out/libcerebro-dev_${version}-1_${arch}.deb
tools=$tmp/out/cerebro-tools_${version}-1_${arch}.deb

# files DEB: the paths of its regular files and links, one a line.
files() { dpkg-deb -c "$1" | awk '$1 !~ /^d/ {print $6}' | sed 's|^\./|/|'; }
# has DEB REGEX... / lacks DEB REGEX...: each must match some path / none.
has() {
  local deb=$1; shift
  for re in "$@"; do
    files "$deb" | grep -Eq "^$re\$" || fail "$(basename "$deb") lacks $re; it holds: $(files "$deb" | xargs)"
  done
}
lacks() {
  local deb=$1; shift
  for re in "$@"; do
    ! files "$deb" | grep -Eq "$re" || fail "$(basename "$deb") must not hold $re: $(files "$deb" | grep -E "$re" | xargs)"
  done
}
libdir='/usr/lib(/[a-z0-9_-]+-linux-gnu[a-z0-9_]*)?'
has "$lib" "$libdir/libcerebro\.so\.0" "$libdir/libcerebro\.so\.${version//./\\.}"
lacks "$lib" 'libcerebro\.so$' '^/usr/include' '^/usr/bin' '\.pc$' '\.cmake$' 'default\.pt'
has "$dev" '/usr/include/cerebro/cerebro\.h' "$libdir/libcerebro\.so" "$libdir/pkgconfig/cerebro\.pc" \
    "$libdir/cmake/cerebro/cerebroConfig\.cmake" "$libdir/cmake/cerebro/cerebroConfigVersion\.cmake" \
    "$libdir/cmake/cerebro/cerebroTargets\.cmake"
lacks "$dev" 'libcerebro\.so\.' '^/usr/bin'
has "$tools" '/usr/bin/cerebro' '/usr/share/cerebro/default\.pt'
lacks "$tools" 'libcerebro' '^/usr/include' 'cerebro-(preprocess|encode|search)'
# Debian policy: each package's copyright and changelog in its doc folder.
for deb in "$lib" "$dev" "$tools"; do
  name=$(dpkg-deb -f "$deb" Package)
  has "$deb" "/usr/share/doc/$name/copyright" "/usr/share/doc/$name/changelog\.Debian\.gz"
done
dpkg-deb --fsys-tarfile "$tools" | tar -xO ./usr/share/doc/cerebro-tools/copyright |
  grep -q 'Copyright (c) 2021 OpenAI' || fail "cerebro-tools copyright lacks CLIP's merges"
# The namelink is a link to the runtime package's soname, not a copy.
dpkg-deb -c "$dev" | grep -E ' \./usr/lib.*/libcerebro\.so -> libcerebro\.so\.0$' > /dev/null ||
  fail "libcerebro-dev: libcerebro.so is not a link to libcerebro.so.0"

# Control fields: names, versions, Depends.
field() { dpkg-deb -f "$1" "$2"; }
for deb in "$lib" "$dev" "$tools"; do
  [ "$(field "$deb" Version)" = "${version}-1" ] || fail "$(basename "$deb"): Version $(field "$deb" Version)"
  [ -n "$(field "$deb" Depends)" ] || fail "$(basename "$deb"): no Depends"
  [ -n "$(field "$deb" Description)" ] || fail "$(basename "$deb"): no Description"
done
[ "$(field "$lib" Package)" = libcerebro0 ] || fail "runtime package is $(field "$lib" Package)"
# dpkg-shlibdeps ran: the library's NEEDED entries became packages.
for dep in libc6 libtorch libturbojpeg0 libsqlite3-0 libavformat; do
  field "$lib" Depends | grep -q "$dep" || fail "libcerebro0 Depends lacks $dep: $(field "$lib" Depends)"
done
field "$dev" Depends | grep -q "libcerebro0 (= ${version}-1)" ||
  fail "libcerebro-dev must depend on libcerebro0 (= ${version}-1): $(field "$dev" Depends)"
field "$tools" Depends | grep -q "libcerebro0 (>= ${version})" ||
  fail "cerebro-tools must depend on libcerebro0: $(field "$tools" Depends)"
field "$tools" Depends | grep -q libmicrohttpd ||
  fail "cerebro-tools Depends lacks libmicrohttpd (dpkg-shlibdeps): $(field "$tools" Depends)"

# The library package tells ldconfig, and declares its soname for others.
mkdir "$tmp/control"
dpkg-deb -e "$lib" "$tmp/control"
grep -qx 'activate-noawait ldconfig' "$tmp/control/triggers" || fail "libcerebro0 has no ldconfig trigger"
grep -qx "libcerebro 0 libcerebro0 (>= ${version}-1)" "$tmp/control/shlibs" ||
  fail "libcerebro0 shlibs: $(cat "$tmp/control/shlibs" 2>/dev/null)"

# Unpacked into a throwaway root: the program starts without LD_LIBRARY_PATH,
# loads the unpacked library, and finds the packaged model by itself.
root=$tmp/root
for deb in "$lib" "$dev" "$tools"; do dpkg-deb -x "$deb" "$root"; done
check_cerebro "$root/usr/bin/cerebro" "$(dirname "$(find "$root" -name libcerebro.so.0)")" \
  "$root/usr/share/cerebro/default.pt" "$src/examples/images/frog.png"

# The development files work from where they were unpacked (the .pc file is
# relocatable): an outside program compiles and links against them.
pc=$(dirname "$(find "$root" -name cerebro.pc)")
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs cerebro)
case "$flags" in *"$root"*) ;; *) fail "pkg-config flags do not point into the package: $flags";; esac
cc -std=c99 -Wall -Wextra -Werror "$src/examples/search.c" $flags -o "$tmp/search" ||
  fail "examples/search.c does not build against libcerebro-dev"
echo "packages: $found; Depends computed; the unpacked cerebro runs with the packaged model"
