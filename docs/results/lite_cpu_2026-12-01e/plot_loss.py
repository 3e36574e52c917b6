"""Training curve of the shipped lite run, all four parts (from the metrics.csv of the last part, which carries
the earlier parts' rows): python plot_loss.py ~/.cache/kpfusion_ros/runs/lite_crops_v1d/metrics.csv OUT.png

``plot`` is also what later continuations of the run call (docs/results/lite_cpu_2026-12-02a/plot_loss.py)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: (hours, label height, label) of the parts' starts marked on the curve
MARKS = ((13142 / 3600, 57, "v1c: fresh data, lr 3e-4"), (23594 / 3600, 57, "v1d: ±30 mm centre shifts"))
TITLE = "lite on the CPU: four parts (warm restarts at 1.95 h, 3.65 h, 6.55 h)"


def plot(metrics_csv: str, out_png: str, marks=MARKS, title: str = TITLE) -> None:
    rows = {}
    for r in csv.DictReader(open(metrics_csv)):
        rows[int(r["step"])] = r  # a step logged twice (a part killed after its last checkpoint): the later row
    steps = sorted(rows)
    h = np.array([float(rows[s]["time_s"]) for s in steps]) / 3600
    err = np.array([float(rows[s]["train_mpjpe_mm"]) for s in steps])
    lr = np.array([float(rows[s]["lr"]) for s in steps])
    k = 25
    smooth = np.convolve(err, np.ones(k) / k, mode="valid")
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ax.plot(h, err, color="0.8", lw=0.6, label="train MPJPE per logged step (augmented crops)")
    ax.plot(h[k - 1:], smooth, color="tab:blue", lw=1.6, label=f"mean of {k} logged steps")
    ax.set_xlabel("training hours (wall clock, all parts)")
    ax.set_ylabel("train MPJPE (mm)")
    ax.set_ylim(10, 60)
    ax2 = ax.twinx()
    ax2.semilogy(h, lr, color="tab:red", lw=1.0, label="learning rate")
    ax2.set_ylabel("learning rate")
    for t, y, name in marks:
        ax.axvline(t, color="k", ls=":", lw=0.8)
        ax.text(t, y, " " + name, fontsize=8, va="top")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)


if __name__ == "__main__":
    plot(sys.argv[1], sys.argv[2])
