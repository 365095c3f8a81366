#!/usr/bin/env bash
# Installs everything libcerebro needs to build, test and benchmark on Debian 12.
# Idempotent: packages already installed are skipped; nothing is downloaded when
# everything is present. Run as root (or with sudo available).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake pkg-config git clang libclang-rt-14-dev
  # clang's OpenMP headers: the fuzz build compiles against FAISS, which needs them
  libomp-dev
  # runtime dependencies of the library
  libtorch-dev libfaiss-dev libopenblas0-pthread
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev
  # the other image formats: WebP, HEIC/AVIF, TIFF, GIF, JPEG XL, camera RAW, BMP
  libwebp-dev libheif-dev libtiff-dev libgif-dev libjxl-dev libraw-dev libgdk-pixbuf-2.0-dev
  libsqlite3-dev libutf8proc-dev libcjson-dev
  # content hashes (OpenSSL's libcrypto) and SentencePiece tokenizers (SigLIP)
  libssl-dev libsentencepiece-dev
  # video frames (lib/video) and the ffmpeg command that makes test videos
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  # the search server (programs/: cerebro serve; Debian's libmicrohttpd has
  # TLS through GnuTLS); its TLS test makes a certificate with openssl and
  # fetches with curl
  libmicrohttpd-dev openssl curl
  # tests
  check lcov python3 python3-torch python3-torchvision python3-numpy python3-pil python3-pytest
  # importing SigLIP checkpoints and checking the C tokenizer against the reference
  python3-sentencepiece sentencepiece
  python3-regex
  # benchmarks and test-image tools
  libjpeg-turbo-progs python3-faiss
  # each format's own encoders and reference decoders (test files are made by the tests)
  webp libheif-examples libavif-bin libjxl-tools libraw-bin imagemagick
  # browser test of the search page (headless chromium) and the server load bench
  chromium wrk
  # distributed indexing (bindings/python/cerebro/distributed.py): Dask
  python3-dask python3-distributed
  # training pipeline: plots, OpenMoji SVG rasterising, WordNet captions
  # (training/cerebro_train/captions.py reads wordnet-base with nltk)
  python3-matplotlib librsvg2-bin wordnet-base python3-nltk
  # installing it: the Debian packages (cpack: dpkg-shlibdeps, file), the
  # Python package (pip into a venv, offline with Debian's setuptools)
  dpkg-dev file python3-venv python3-pip python3-setuptools python3-wheel
)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node.js for the Node binding and the browser test: Debian 12's own nodejs
# (18) and npm. Everything npm installs is pinned to releases that support
# Node 18 (koffi 3.3, playwright-core 1.61), so a newer node that a machine
# already has (e.g. NodeSource's, which bundles npm) serves as well; an older
# one does not.
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm (found node major version $node_major)"
  export DEBIAN_FRONTEND=noninteractive
  ${sudo:-} apt-get update -qq
  ${sudo:-} apt-get install -y -qq --no-install-recommends nodejs npm
fi
# npm dependencies, exactly as locked: the Node binding (koffi) and the
# browser test (playwright-core, which drives Debian's chromium).
root=$(cd "$(dirname "$0")/.." && pwd)
for dir in bindings/node tests/browser; do
  [ -f "$root/$dir/package-lock.json" ] || continue
  if [ ! -f "$root/$dir/node_modules/.package-lock.json" ] ||
     [ "$root/$dir/package-lock.json" -nt "$root/$dir/node_modules/.package-lock.json" ]; then
    (cd "$root/$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
done

# OpenBLAS must be the BLAS that libtorch and FAISS load: the reference BLAS is
# ~36x slower (DESIGN.md). Debian selects the highest-priority alternative, which
# is OpenBLAS once installed; make that explicit in case an admin pinned another.
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
for alt in "libblas.so.3-$arch" "liblapack.so.3-$arch"; do
  best=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-pthread | head -n 1 || true)
  if [ -n "$best" ] && [ "$(readlink -f /etc/alternatives/$alt)" != "$(readlink -f "$best")" ]; then
    ${sudo:-} update-alternatives --set "$alt" "$best"
  fi
done
echo "setup: done"
