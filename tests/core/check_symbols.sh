#!/usr/bin/env bash
# Exported dynamic symbols of libcerebro.so must be exactly the functions
# the public header declares with CEREBRO_API: nothing from torch, FAISS,
# libstdc++ or the image libraries leaks, and nothing declared is missing.
set -eu
lib=$1 header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TWiV]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u > "$tmp/exported"
# Declarations span lines: join the header, then take the name before '('.
tr '\n' ' ' < "$header" | grep -oE 'CEREBRO_API [a-z_ 0-9]*[ *]cerebro_[a-z0-9_]+\(' | grep -oE 'cerebro_[a-z0-9_]+\($' | tr -d '(' | sort -u > "$tmp/declared"

n=$(wc -l < "$tmp/declared")
[ "$n" -gt 30 ] || { echo "parsed only $n declarations from $header"; exit 1; }
if ! diff -u "$tmp/declared" "$tmp/exported"; then
  echo "FAIL: exported symbols (+) differ from the header's declarations (-)"
  exit 1
fi
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v -E '^(cerebro_|CEREBRO_0$)' || true)
[ -z "$bad" ] || { echo "FAIL: non-cerebro symbols exported:"; echo "$bad"; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libcerebro.so.0" ] || { echo "FAIL: SONAME is '$soname', want libcerebro.so.0"; exit 1; }
echo "$n exported symbols match the header; SONAME $soname"
