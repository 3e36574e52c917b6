#!/usr/bin/env bash
# What runs on the lent GPU (see docs/results.md). Usage (from the repo root):
#   scripts/gpu_experiments.sh smoke      # env check + 30-step trainings of 3 configs, step rates
#   scripts/gpu_experiments.sh full STEPS TIME_BUDGET_S   # all configs concurrently + lite export
# Writes everything under $OUT (default ./gpu_out): results.tgz (JSON/CSV/PNG/MD, no weights),
# kpfusion_lite.pt, log.txt.
set -u
MODE=${1:-smoke}
OUT=${OUT:-$PWD/gpu_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
$PY -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'numpy', numpy.__version__)"
$PY -c "import tqdm, matplotlib; print('tqdm', tqdm.__version__, 'mpl', matplotlib.__version__)" || echo "tqdm/matplotlib missing"
$PY -c "import cv2; print('cv2', cv2.__version__)" || echo "cv2 missing"
RUNS=/tmp/kpf_runs
mkdir -p $RUNS
if [ "$MODE" = smoke ]; then
  for P in official_3stage official lite; do
    ( t=$SECONDS; $PY -m kpfusion_ros.tools.train --preset $P --steps 30 --frames-per-step 32 --device cuda \
        --out $RUNS/smoke_$P --quiet --log-every 10 --eval-frames 32 --protocols gt_crops,localizer --no-resume \
        && echo "$P done in $((SECONDS - t)) s" ) &
  done
  wait
  for P in official_3stage official lite; do echo "== $P"; cat $RUNS/smoke_$P/metrics.csv | cut -d, -f1-3,$(head -1 $RUNS/smoke_$P/metrics.csv | tr , '\n' | grep -n total | cut -d: -f1) ; done
  nvidia-smi --query-gpu=memory.used --format=csv
else
  STEPS=${2:-1500}; TB=${3:-420}; CONFIGS=${4:-all}
  export PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
  $PY -m kpfusion_ros.tools.experiments --out $RUNS/exp --configs $CONFIGS --device cuda --steps $STEPS \
      --time-budget $TB --frames-per-step 24 --pool 384 --refresh 2 --width 320 --height 240 --eval-frames 240
  cp $RUNS/exp/lite/kpfusion_lite.pt "$OUT/" 2>/dev/null
  (cd $RUNS && tar czf "$OUT/results.tgz" --exclude='*.pt' --exclude='*.tmp' exp)
  ls -la "$OUT"
fi
