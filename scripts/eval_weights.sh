#!/usr/bin/env bash
# Every figure of a set of weights, the way docs/results.md and docs/real_frames.md quote them:
#   scripts/eval_weights.sh MODEL.pt OUT_DIR [FPHAB_ROOT]
# 1. synthetic held-out split (eval seed 1000003, 200 frames 320x240, new renderer), GT-centred crops
#    -> OUT_DIR/synthetic_gt_crops.{json,md}
# 2. the bundled demo recording offline through the node's pipeline, scored against its ground truth
#    (every synchronized frame: deterministic, unlike the real-time demo) -> OUT_DIR/demo_bag_score.txt
# 3. with FPHAB_ROOT (a local copy of the F-PHAB sample; research-only, never commit its frames):
#    both real-frame protocols -> OUT_DIR/real_fphab.{json,md} (numbers only); the node protocol at
#    min_hand_confidence 0, so that its trade-off table covers every threshold and figures compare across
#    weights (the row of the node's default threshold is in that table)
# Runs on the CPU with one torch thread per process (OMP_NUM_THREADS=1 unless set).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?model file}; out=${2:?output directory}; fphab=${3:-}
mkdir -p "$out"
source scripts/env.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
py() { python -P -m "$@"; }
py kpfusion_ros.tools.evaluate --checkpoint "$model" --frames 200 --width 320 --height 240 --protocols gt_crops \
   --device cpu --json "$out/synthetic_gt_crops.json" --md "$out/synthetic_gt_crops.md" --quiet
py kpfusion_ros.tools.bag data/demo/kpfusion_demo "$out/demo_bag" --model "$model" --device cpu --score --force \
   --quiet | tee "$out/demo_bag_score.txt"
rm -rf "$out/demo_bag"
if [ -n "$fphab" ]; then
  py kpfusion_ros.tools.eval_real --dataset fphab --data-root "$fphab" --model "$model" --device cpu --min-hand-confidence 0 \
     --json "$out/real_fphab.json" --md "$out/real_fphab.md" --quiet
fi
echo "[eval_weights] wrote $out"
