#!/usr/bin/env bash
# What `make demo` runs (after setup and build): the main job, kpfusion-demo, inside the
# private network namespace (scripts/hermetic.sh). Arguments go to kpfusion-demo, e.g.
#   make demo DEMO_ARGS="--rate 0.5 --device cuda"
# The bundled recording (data/demo/kpfusion_demo) is regenerated if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
# -P: do not put the source tree first on sys.path (the install has the generated messages)
if [ ! -f data/demo/kpfusion_demo/metadata.yaml ]; then
  echo "[demo] data/demo/kpfusion_demo missing: regenerating it (about a minute)"
  python -P -m kpfusion_ros.tools.make_demo_bag --out data/demo/kpfusion_demo --seed 7
fi
exec scripts/hermetic.sh python -P -m kpfusion_ros.tools.demo "$@"
