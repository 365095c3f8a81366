#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install dependencies, build,
# then run libcerebro on the bundled sample images. Today that is decoding
# and preprocessing them into model input tensors exactly as CLIP expects
# (exact mode, then fast mode); encoding and search join as they land.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build -j"$(nproc)"
echo "== preprocess (exact mode)"
build/examples/cerebro-preprocess examples/images/*
echo "== preprocess (fast mode), tensors written to build/samples.f32"
build/examples/cerebro-preprocess --fast --out build/samples.f32 examples/images/*
