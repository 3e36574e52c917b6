"""Rule 1 of README.md: S (spread), C (spread + size) and Z (size) fitted on the selection log, reported on the
report log. ``python choose.py SELECTION.json REPORT.json`` (logs of ../side_stability_2026-12-02/side_stability.py log)."""
import json
import sys

import numpy as np


def cues(path):
    h = json.load(open(path))["hands"]
    R = np.array([r["is_right"] for r in h])
    spread = np.log(np.array([r["spread_mirrored"] / r["spread_as_is"] for r in h]))
    size = np.log(np.array([r["size_as_is"] / r["size_mirrored"] for r in h]))
    return R, np.stack([spread, size], 1)


def fit(X, R, iters=100):
    """Logistic regression without intercept (Newton)."""
    y = R.astype(float)
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-X @ w))
        g = X.T @ (p - y) / len(y)
        H = (X * (p * (1 - p))[:, None]).T @ X / len(y) + 1e-9 * np.eye(X.shape[1])
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def evaluate(X, R, w):
    z = X @ w
    return {"accuracy": float(np.mean((z > 0) == R)), "log_loss": float(np.mean(np.logaddexp(0, -np.where(R, 1, -1) * z))),
            "accuracy_right_hands": float(np.mean(z[R] > 0)), "accuracy_left_hands": float(np.mean(z[~R] < 0))}


def main():
    Rs, Xs = cues(sys.argv[1])
    Rr, Xr = cues(sys.argv[2])
    out = {"selection": sys.argv[1], "report": sys.argv[2], "hands": [int(len(Rs)), int(len(Rr))]}
    for name, cols in (("S", [0]), ("C", [0, 1]), ("Z", [1])):
        w = fit(Xs[:, cols], Rs)
        out[name] = {"weights (spread, size)": [float(w[cols.index(c)]) if c in cols else 0.0 for c in (0, 1)],
                     "selection": evaluate(Xs[:, cols], Rs, w), "report": evaluate(Xr[:, cols], Rr, w)}
    S, C = out["S"]["report"], out["C"]["report"]
    out["rule_1"] = {"accuracy_needed": S["accuracy"] + 0.03, "holds": bool(C["accuracy"] >= S["accuracy"] + 0.03
                                                                            and C["log_loss"] < S["log_loss"])}
    out["correlation_of_cues_selection"] = float(np.corrcoef(Xs[:, 0], Xs[:, 1])[0, 1])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
