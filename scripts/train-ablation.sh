#!/usr/bin/env bash
# The short ablation behind the default model's recipe (models/MODEL_CARD.md,
# "What each change bought"): four 1,000-step pretraining runs from the same
# seed -- the first generation's data, + emoji groups, + typed and WordNet
# captions, + both -- run side by side (one thread each), then one table of
# their evaluations (CIFAR-6, Twitter emoji by name and as typed, "a X").
#
#   bash scripts/train-ablation.sh [--steps N] [--run-root runs/ablation]
#
# Needs the training data (`python3 -m cerebro_train data`, see
# scripts/train-model.sh). About 15 minutes on two idle cores.
set -euo pipefail
cd "$(dirname "$0")/../training"
steps=1000
root=runs/ablation
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift ;;
    --run-root) root=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "train-ablation.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$(dirname "$root")"
arms=("base --no-emoji-groups --extra-captions="
      "groups --emoji-groups --extra-captions="
      "captions --no-emoji-groups --extra-captions=typed,wordnet"
      "both --emoji-groups --extra-captions=typed,wordnet")
pids=()
for arm in "${arms[@]}"; do
  read -r name groups captions <<< "$arm"
  /usr/bin/python3 -m cerebro_train pipeline --run "$root/$name" --rounds 0 --no-control \
    --pretrain-steps "$steps" --threads 1 --nproc 1 --final-eval-backend torch \
    "$groups" "$captions" > "$root-$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
/usr/bin/python3 - "$root" <<'PY'
import json, sys
from pathlib import Path
root = Path(sys.argv[1])
keys = ["cifar6_acc", "cifar6_acc_ensemble", "twitter_r@1", "twitter_r@10", "heldout_r@10",
        "twitter_typed_r@10"]
print("| arm | " + " | ".join(keys) + " |")
print("|---" * (len(keys) + 1) + "|")
for arm in ("base", "groups", "captions", "both"):
    e = json.loads((root / arm / "pretrain" / "eval.json").read_text())
    print(f"| {arm} | " + " | ".join(f"{100 * e[k]:.1f}" if e.get(k) is not None else "-"
                                    for k in keys) + " |")
PY
