"""Training curve of part 2 of the ±50 mm continuation (its own metrics.csv; hours count from its start):
python plot_loss.py ~/.cache/kpfusion_ros/runs/lite_shift50b/metrics.csv loss.png

Calls ``plot`` of docs/results/lite_cpu_2026-12-01e/plot_loss.py, with the learning-rate decay marked."""
import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "plot_loss_01e", Path(__file__).resolve().parents[1] / "lite_cpu_2026-12-01e" / "plot_loss.py")
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)

#: --lr-decay-at 0.8 of --time-budget 10800 s
MARKS = ((0.8 * 10800 / 3600, 57, "lr x0.1"),)

if __name__ == "__main__":
    _base.plot(sys.argv[1], sys.argv[2], MARKS,
               "lite, ±50 mm centre shifts, part 2: 3 h from part 1's weights (data seed 7)")
