# Shared by bench_server.sh and soak_server.sh (sourced): the options they
# share, and `cerebro serve` started in the background (checking the program
# and wrk, making an index when none is given, cleaning up on exit).
#
# serve_option ARGS...: handles one of --build, --db, --model, --duration,
# --connections, --serve-opts or a ROOT at the front of ARGS; sets `shifted`
# to the number of arguments it took (0: not one of these).
#
# serve_start: reads name (for messages), build, db, model, roots (array),
# serve_opts (array), access_log (optional; default $tmp/access.log); sets
# cerebro, tmp, pid, url, db, roots, access_log. Defines rss.

build=build db="" model=models/default.pt duration=30s connections=64
roots=() serve_opts=()

serve_option() {
  shifted=2
  case $1 in
    --build) build=$2 ;;
    --db) db=$2 ;;
    --model) model=$2 ;;
    --duration) duration=$2 ;;
    --connections) connections=$2 ;;
    --serve-opts) read -r -a serve_opts <<< "$2" ;;
    -*) shifted=0 ;;
    *) roots+=("$1"); shifted=1 ;;
  esac
}

serve_start() {
  cerebro=$build/programs/cerebro
  [ -x "$cerebro" ] || { echo "$name: no $cerebro (build the cerebro-cli target, or pass --build)" >&2; exit 1; }
  command -v wrk > /dev/null || { echo "$name: wrk is not installed" >&2; exit 1; }

  tmp=$(mktemp -d)
  access_log=${access_log:-$tmp/access.log}
  pid=""
  cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; fi
    rm -rf "$tmp"
  }
  trap cleanup EXIT

  # Without --db: the demo gallery's index (scripts/demo.sh) when present,
  # else a fresh index of examples/images.
  if [ -z "$db" ] && [ -d build/demo/gallery.cerebro ]; then
    db=build/demo/gallery.cerebro
    [ ${#roots[@]} -gt 0 ] || roots=(build/demo/gallery examples/images)
  fi
  if [ -z "$db" ]; then
    db=$tmp/db
    cp -r examples/images "$tmp/images"
    "$cerebro" --db "$db" --model "$model" index "$tmp/images" > /dev/null
    [ ${#roots[@]} -gt 0 ] || roots=("$tmp/images")
  fi

  "$cerebro" --db "$db" --model "$model" info | sed 's/^/  /'
  "$cerebro" --db "$db" --model "$model" serve --port 0 ${serve_opts[@]+"${serve_opts[@]}"} "${roots[@]}" \
    > "$tmp/out" 2> "$access_log" &
  pid=$!
  for _ in $(seq 600); do
    grep -q '^listening on' "$tmp/out" 2> /dev/null && break
    kill -0 "$pid" 2> /dev/null || { cat "$access_log" >&2; exit 1; }
    sleep 0.1
  done
  url=$(sed -n 's/^listening on //p' "$tmp/out")
  [ -n "$url" ] || { echo "$name: the server did not start" >&2; exit 1; }
  rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }
}
