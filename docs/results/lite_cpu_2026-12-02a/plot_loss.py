"""Training curve of the shipped lite run, all five parts (from the metrics.csv of the last part, which carries
the earlier parts' rows): python plot_loss.py ~/.cache/kpfusion_ros/runs/lite_crops_v1f/metrics.csv OUT.png

The plot of docs/results/lite_cpu_2026-12-01e/plot_loss.py with the fifth part marked."""
import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "plot_loss_01e", Path(__file__).resolve().parents[1] / "lite_cpu_2026-12-01e" / "plot_loss.py")
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)

MARKS = _base.MARKS + ((26594 / 3600, 53, "v1f: 2 h more, ±30 mm"),)

if __name__ == "__main__":
    _base.plot(sys.argv[1], sys.argv[2], MARKS,
               "lite on the CPU: five parts (warm restarts at 1.95 h, 3.65 h, 6.55 h, 7.39 h)")
