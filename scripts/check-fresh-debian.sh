#!/usr/bin/env bash
# The proof that a newcomer's machine works: bootstrap a minimal Debian 12
# (debootstrap --variant=minbase bookworm) into a temporary folder, clone this
# repository's HEAD into it with nothing else beside it, and run the README's
# two commands there exactly as written, in a clean environment (env -i):
#
#   bash scripts/demo.sh     (stopped with Ctrl-C once it serves and has
#                             answered a search over HTTP)
#   bash scripts/test.sh
#
# Then, outside the checkout, the way a user installs libcerebro: the Debian
# packages built from that checkout (apt-get install ./*.deb), `cerebro index`
# and `cerebro search` on the sample images with the installed default model,
# a C program built with pkg-config, the Python binding installed with pip into
# a venv, and the Node binding installed from its `npm pack` tarball.
# Prints each step's wall time and result, and a summary; exits 1 if any failed.
#
#   bash scripts/check-fresh-debian.sh [--keep] [--only demo|test|install]...
#
# Needs root, debootstrap and the Debian archive (plus the npm registry, which
# the README's commands use). The bootstrapped base is cached in
# $CEREBRO_FRESH_CACHE (default ~/.cache/cerebro-fresh-debian) and so are the
# downloaded .deb files: each run starts from the same pristine base. Extra CA
# certificates of the host (/usr/local/share/ca-certificates; some networks
# re-sign TLS) are trusted inside. Takes 15-30 minutes on two cores; too slow
# for CI, which runs scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

keep=0
only=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --only) only+=("$2"); shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-fresh-debian: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
wanted() { [ ${#only[@]} -eq 0 ] || printf '%s\n' "${only[@]}" | grep -qx "$1"; }

[ "$(id -u)" -eq 0 ] || { echo "check-fresh-debian: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
fi

cache=${CEREBRO_FRESH_CACHE:-$HOME/.cache/cerebro-fresh-debian}
mirror=${CEREBRO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=$cache/bookworm-minbase
mkdir -p "$cache/archives"

if [ ! -f "$base/.complete" ]; then
  echo "== bootstrapping Debian 12 minbase into $base (cached for later runs)"
  rm -rf "$base"
  debootstrap --variant=minbase bookworm "$base" "$mirror" > "$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; exit 1; }
  touch "$base/.complete"
fi

work=$(mktemp -d /var/tmp/cerebro-fresh.XXXXXX)
root=$work/root
log=$work/logs
mkdir -p "$log"
cleanup() {
  if [ "$keep" -eq 1 ]; then
    echo "check-fresh-debian: kept $work"
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT

echo "== fresh root $root"
cp -a "$base" "$root"
rm -f "$root/.complete"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# The same sources as a stock Debian 12 installation: the release, its
# updates and the security archive.
cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
fi
# Nothing but HEAD: a clone, its origin pointing nowhere on this machine.
git clone -q --no-hardlinks "$repo" "$root/root/libcerebro"
git -C "$root/root/libcerebro" remote remove origin
head=$(git -C "$root/root/libcerebro" rev-parse --short HEAD)

# Runs a command inside the fresh system in its own mount namespace (proc,
# sys, dev, a tmpfs /dev/shm for chromium; all gone when it ends), as root,
# with a clean environment.
in_root() {
  local cwd=$1
  shift
  unshare --mount --propagation private -- bash -c '
    set -e
    r=$1; shift
    # The root a mount point of its own, as on a real machine (tests make
    # their mounts private with mount(/, MS_PRIVATE), which needs one).
    mount --bind "$r" "$r"
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount -t tmpfs -o size=2g,mode=1777 shm "$r/dev/shm"
    mount --bind "$0" "$r/var/cache/apt/archives"
    exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
  ' "$cache/archives" "$root" /bin/bash -c "cd $cwd && $*"
}

# The host's extra CA certificates go in with the ca-certificates package,
# which a minbase system lacks (a normal installation has it).
in_root / "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates > /dev/null && update-ca-certificates > /dev/null" \
  > "$log/ca.log" 2>&1 || { tail -20 "$log/ca.log"; exit 1; }

results=()
failed=0
# step NAME COMMAND...: runs COMMAND on the host side, logs to $log/NAME.log,
# records the wall time and the result.
step() {
  local name=$1 start end rc file
  shift
  file=$log/$(printf '%s' "$name" | tr -c 'A-Za-z0-9.-' '_').log
  echo "== $name"
  start=$(date +%s)
  set +e
  "$@" > "$file" 2>&1
  rc=$?
  set -e
  end=$(date +%s)
  if [ $rc -eq 0 ]; then
    results+=("$(printf '%-40s ok      %5ss' "$name" $((end - start)))")
  else
    failed=1
    results+=("$(printf '%-40s FAILED  %5ss  (exit %s, %s)' "$name" $((end - start)) $rc "$file")")
    echo "-- $name failed (exit $rc); last lines of its log:"
    tail -n 40 "$file"
  fi
  tail -n 3 "$file" | sed 's/^/   /'
}

# The demo serves until Ctrl-C: wait for "serving", ask the server for a
# search over HTTP from the host, then send SIGINT to its process group as a
# terminal would.
port=${CEREBRO_DEMO_PORT:-8080}
run_demo() {
  local out=$log/demo.out pid i rc
  : > "$out"
  setsid bash -c in_root_demo > "$out" 2>&1 &
  pid=$!
  for ((i = 0; i < 3600; i++)); do
    grep -q "^listening on http" "$out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  cat "$out"
  if ! grep -q "^listening on http" "$out"; then
    echo "check: the demo never started serving"
    kill -INT -- "-$pid" 2>/dev/null || true
    wait "$pid" || true
    return 1
  fi
  echo "check: GET /api/search?q=a+strawberry"
  curl -fsS "http://127.0.0.1:$port/api/search?q=a+strawberry&k=3" || { kill -INT -- "-$pid"; wait "$pid"; return 1; }
  echo
  curl -fsS "http://127.0.0.1:$port/" | grep -q "<html" || { echo "check: no page at /"; kill -INT -- "-$pid"; wait "$pid"; return 1; }
  kill -INT -- "-$pid"
  rc=0
  wait "$pid" || rc=$?
  echo "check: demo exited with status $rc after Ctrl-C"
  # Ctrl-C ends the server with 0 (it stops cleanly) or 130.
  [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ]
}
in_root_demo() { in_root /root/libcerebro "CEREBRO_DEMO_PORT=$port bash scripts/demo.sh"; }
export -f in_root in_root_demo
export root cache port

# After the README's commands: the packages a user installs, built from the
# checkout's build, installed with apt, then used from a folder that is not
# the checkout (scripts/check-installed.sh).
install_check() {
  in_root /root/libcerebro "cmake --build build --target package -j2 && rm -rf /tmp/debs && mkdir /tmp/debs && cp build/*.deb /tmp/debs/ && ls -l /tmp/debs && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /tmp/debs/*.deb && bash scripts/check-installed.sh /tmp/user"
}

wanted demo && step "bash scripts/demo.sh" run_demo
wanted test && step "bash scripts/test.sh" in_root /root/libcerebro "bash scripts/test.sh"
wanted install && step "packages, index, search, pkg-config, pip, npm" install_check

echo
echo "== summary: fresh Debian 12 minbase, clone of $head, $(date -u '+%Y-%m-%d %H:%M UTC')"
in_root / 'echo "   node $(node --version 2>/dev/null || echo none), npm $(npm --version 2>/dev/null || echo none), $(chromium --version 2>/dev/null || echo no chromium)"' || true
printf '%s\n' "${results[@]}"
grep -h "tests passed, \|tests failed out of\|^== all tests passed\|check-installed: all passed" "$log"/*.log 2>/dev/null |
  sed 's/^/   /' || true
[ "$failed" -eq 0 ] && echo "check-fresh-debian: all passed" || echo "check-fresh-debian: FAILED"
exit "$failed"
