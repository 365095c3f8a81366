#!/usr/bin/env bash
# The public header must compile on its own as C99 and as C++ with every
# pedantic warning an error (libgit2's headertest idea).
set -eu
header=$1 cc=$2 cxx=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <cerebro/cerebro.h>\nint main(void) { return cerebro_version_number() == 0; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cpp"
inc=$(dirname "$(dirname "$header")")
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/h.c" -o "$tmp/c.o"
"$cc" -std=c11 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/h.c" -o "$tmp/c11.o"
"$cxx" -std=c++11 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/h.cpp" -o "$tmp/cpp.o"
"$cxx" -std=c++17 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/h.cpp" -o "$tmp/cpp17.o"
echo "header compiles as C99, C11, C++11 and C++17"
