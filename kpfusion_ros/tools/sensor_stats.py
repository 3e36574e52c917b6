"""``python -m kpfusion_ros.tools.sensor_stats``: depth-sensor statistics, real frames vs the sensor model.

Measures the same statistics on a directory of real depth PNGs (uint16 mm, e.g. an F-PHAB
sequence; research-only data stays local: only the numbers are written) and on rendered
scenes of similar content passed through a preset of :mod:`kpfusion_ros.data.synthetic.sensor`,
and writes both to one JSON. The committed comparison was made with::

    python -m kpfusion_ros.tools.sensor_stats \\
        --real-depth-dir ~/.cache/kpfusion_ros/data/fphab/Video_files/Subject_1/put_salt/1/depth \\
        --preset sr300 --frames 48 --out benchmarks/sensor_stats_sr300.json

Statistics (each image scanned along rows; "steps" are pairs of consecutive valid pixels
(a, b) on a row whose 6-px context on both sides is valid and smooth (range ≤ 15 mm) and whose
depths differ by more than 40 mm + 5 % of the nearer, with at most 80 invalid pixels between):

* ``invalid_fraction``: invalid pixels / all pixels; ``invalid_near_edges_N``: invalid
  fraction within N px (Chebyshev) of a step's end pixels;
* ``by_side``: per bin of f·(1/z_near − 1/z_far) (the band's width per mm of baseline), for
  steps whose nearer side is on the left ("band_right_of_fg") and on the right, the gap's
  percentiles and the median gap / (f·(1/z_n − 1/z_f));
* ``band``: the side whose gaps are larger at clear steps (f·(1/z_n − 1/z_f) ≥ 0.3) is the
  occlusion band; there, the baseline the band-width law f·b·(1/z_n − 1/z_f) needs (median
  ratio, and a line gap = slope·f·(1/z_n − 1/z_f) + intercept through the medians of the bins
  from 0.2 px/mm up);
* ``other_side_gap``: the gaps on the other side of the foreground at clear steps (the invalid
  rim of edges that no shadow explains);
* ``flying_per_edge``: of the transitions between two clean sides (rows and columns) that are
  direct or pass through one or two valid pixels, the fraction that pass through pixels lying
  between the sides (≥ 10 mm from both): mixed / flying pixels;
* ``noise_by_depth``: per 100 mm bin, the median residual σ of a plane fitted to each fully
  valid 7×7 patch (range < 40 mm; 1-mm rounding alone gives 0.29), and ``step_by_depth``: the
  median smallest non-zero difference between depth values inside a patch (quantisation step).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FPHAB_FX = 475.065948
FPHAB_CAM = (475.065948, 475.065857, 315.944855, 245.287079)
CTX = 6
SMOOTH_MM = 15.0
MAX_GAP = 80
NOISE_PATCH = 7
Z_BINS = tuple(range(200, 1600, 100))
DISPARITY_BINS = ((0.05, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.45), (0.45, 0.6), (0.6, 0.8), (0.8, 1.2))


def _jump(zn: np.ndarray) -> np.ndarray:
    return 40.0 + 0.05 * zn


def _context_ok(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left_ok, right_ok) H×W: the CTX pixels ending (starting) at each pixel are valid and smooth."""
    H, W = D.shape
    win = sliding_window_view(D, CTX, axis=1)  # H×(W−CTX+1)×CTX, window k covers k..k+CTX−1
    ok = (win > 0).all(-1) & (np.ptp(win, axis=-1) <= SMOOTH_MM)
    left = np.zeros((H, W), bool)
    right = np.zeros((H, W), bool)
    left[:, CTX - 1:] = ok  # window ending at column c
    right[:, :W - CTX + 1] = ok  # window starting at column c
    return left, right


def row_steps(D: np.ndarray) -> dict[str, np.ndarray]:
    """Steps along rows (see the module docstring): gap, z_left, z_right, row, a, b (1-d arrays)."""
    H, W = D.shape
    r, c = np.nonzero(D > 0)
    same = r[1:] == r[:-1]
    a_r, a_c, b_c = r[:-1][same], c[:-1][same], c[1:][same]
    gap = b_c - a_c - 1
    left, right = _context_ok(D)
    zl, zr = D[a_r, a_c], D[a_r, b_c]
    zn = np.minimum(zl, zr)
    keep = (gap <= MAX_GAP) & left[a_r, a_c] & right[a_r, b_c] & (np.abs(zr - zl) > _jump(zn))
    return {"gap": gap[keep], "zl": zl[keep], "zr": zr[keep], "row": a_r[keep], "a": a_c[keep], "b": b_c[keep]}


def flying_counts(D: np.ndarray) -> tuple[int, int]:
    """(flying, steps) along rows and columns: transitions between two clean sides (6-px valid, smooth
    contexts, a jump) that are direct or pass through one or two valid in-between pixels (≥ 10 mm from
    both sides); flying = the latter."""
    fly = steps = 0
    for X in (D, D.T):
        left, right = _context_ok(X)
        W = X.shape[1]
        for k in (0, 1, 2):  # in-between pixels
            za, zb = X[:, : W - k - 1], X[:, k + 1:]
            lo, hi = np.minimum(za, zb), np.maximum(za, zb)
            ok = left[:, : W - k - 1] & right[:, k + 1:] & (hi - lo > _jump(lo))
            for j in range(1, k + 1):
                zm = X[:, j: W - k - 1 + j]
                ok &= (zm > lo + 10.0) & (zm < hi - 10.0)
            n = int(ok.sum())
            steps += n
            fly += n if k else 0
    return fly, steps


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    p = np.pad(mask, r)
    out = np.zeros_like(mask)
    H, W = mask.shape
    for dy in range(2 * r + 1):  # a (2r+1)² box, separably
        out |= p[dy:dy + H, r:r + W]
    p = np.pad(out, r)
    out2 = np.zeros_like(mask)
    for dx in range(2 * r + 1):
        out2 |= p[r:r + H, dx:dx + W]
    return out2


def patch_stats(D: np.ndarray, step: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean z, plane-fit residual σ, smallest non-zero value difference) of fully valid smooth 7×7 patches."""
    k = NOISE_PATCH
    P = sliding_window_view(D, (k, k))[::step, ::step].reshape(-1, k * k)
    P = P[(P > 0).all(1) & (np.ptp(P, axis=1) < 40.0)]
    if len(P) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    yy, xx = np.mgrid[0:k, 0:k]
    A = np.stack([xx.ravel(), yy.ravel(), np.ones(k * k)], 1).astype(np.float64)
    r = P - (P @ np.linalg.pinv(A).T) @ A.T
    sigma = r.std(1) * np.sqrt(k * k / (k * k - 3))
    srt = np.sort(P, axis=1)
    dif = np.diff(srt, axis=1)
    dmin = np.where(dif > 0, dif, np.inf).min(1)
    return P.mean(1), sigma, dmin


def depth_statistics(depths, fx: float) -> dict:
    """The module docstring's statistics over an iterable of H×W depth images (mm, 0 invalid)."""
    gaps, zls, zrs = [], [], []
    n_pix = n_inv = 0
    near = {3: [0, 0], 10: [0, 0]}
    fly = fsteps = 0
    pz, ps, pq = [], [], []
    zs = []
    for D in depths:
        D = np.asarray(D, dtype=np.float64)
        n_pix += D.size
        n_inv += int((D == 0).sum())
        st = row_steps(D)
        gaps.append(st["gap"]), zls.append(st["zl"]), zrs.append(st["zr"])
        ends = np.zeros(D.shape, bool)
        ends[st["row"], st["a"]] = True
        ends[st["row"], st["b"]] = True
        for n in near:
            m = _dilate(ends, n)
            near[n][0] += int((m & (D == 0)).sum())
            near[n][1] += int(m.sum())
        f, s = flying_counts(D)
        fly, fsteps = fly + f, fsteps + s
        a, b, c = patch_stats(D)
        pz.append(a), ps.append(b), pq.append(c)
        zs.append(D[D > 0][::17])
    gap, zl, zr = (np.concatenate(x) if x else np.zeros(0) for x in (gaps, zls, zrs))
    zn, zf = np.minimum(zl, zr), np.maximum(zl, zr)
    pred = fx * (1.0 / np.maximum(zn, 1) - 1.0 / np.maximum(zf, 1))  # band px per mm of baseline
    near_left = zl < zr
    sides = {"band_right_of_fg": near_left, "band_left_of_fg": ~near_left}
    by_side = {}
    for name, side in sides.items():
        rows = {}
        for lo, hi in DISPARITY_BINS:
            m = side & (pred >= lo) & (pred < hi)
            if m.sum() >= 10:
                rows[f"{lo:.2f}-{hi:.2f}"] = {
                    "steps": int(m.sum()),
                    "median_disparity_px_per_mm": float(np.median(pred[m])),
                    "gap_px_p10_p50_p90": [float(x) for x in np.percentile(gap[m], [10, 50, 90])],
                    "median_gap_over_disparity_mm": float(np.median(gap[m] / pred[m])),
                }
        by_side[name] = rows
    big = pred >= 0.3  # a clear foreground: ≥ 13 px of band at 45 mm of baseline
    med = {n: float(np.median(gap[sd & big])) if (sd & big).sum() >= 10 else -1.0 for n, sd in sides.items()}
    band_name = max(med, key=med.get)
    band_side, other = sides[band_name], ~sides[band_name]
    sel = band_side & big
    og = gap[other & big]
    bins = [r for k, r in by_side[band_name].items() if float(k.split("-")[0]) >= 0.2]
    if len(bins) >= 2:  # the band-width law w = b·pred + c, through the bins' medians (robust to holes)
        slope, icpt = np.polyfit([r["median_disparity_px_per_mm"] for r in bins],
                                 [r["gap_px_p10_p50_p90"][1] for r in bins], 1)
    else:
        slope = icpt = float("nan")
    band = {
        "side": band_name,
        "median_gap_px_by_side": med,
        "baseline_mm_median_ratio": float(np.median(gap[sel] / pred[sel])) if sel.any() else None,
        "bin_median_fit_gap_px_eq_slope_mm_times_disparity_plus_px": [float(slope), float(icpt)],
        "steps_used": int(sel.sum()),
    }
    other_gap = {"steps": int(len(og))}
    if len(og):
        other_gap.update({k: float(np.mean(v)) for k, v in (("0", og == 0), ("1", og == 1), ("2", og == 2),
                                                           ("3-5", (og >= 3) & (og <= 5)), ("6-9", (og >= 6) & (og <= 9)),
                                                           (">=10", og >= 10))})
        other_gap["p10_p50_p90"] = [float(x) for x in np.percentile(og, [10, 50, 90])]
    z_all = np.concatenate(zs) if zs else np.zeros(0)
    pz, ps, pq = (np.concatenate(x) for x in (pz, ps, pq))
    noise, steps = {}, {}
    for lo in Z_BINS:
        m = (pz >= lo) & (pz < lo + 100)
        if m.sum() >= 30:
            noise[str(lo)] = {"patches": int(m.sum()), "median_sigma_mm": float(np.median(ps[m])),
                              "p25_sigma_mm": float(np.percentile(ps[m], 25))}
            steps[str(lo)] = float(np.median(pq[m][np.isfinite(pq[m])])) if np.isfinite(pq[m]).any() else None
    return {
        "images": len(gaps),
        "invalid_fraction": n_inv / max(n_pix, 1),
        "valid_depth_percentiles_mm": {str(p): float(np.percentile(z_all, p)) for p in (5, 25, 50, 75, 95)}
        if len(z_all) else {},
        "invalid_near_edges_3": near[3][0] / max(near[3][1], 1),
        "invalid_near_edges_10": near[10][0] / max(near[10][1], 1),
        "steps": int(len(gap)),
        "band": band,
        "by_side": by_side,
        "other_side_gap": other_gap,
        "flying_per_edge": fly / max(fsteps, 1),
        "flying_edges": int(fsteps),
        "noise_by_depth": noise,
        "step_by_depth": steps,
    }


# --------------------------------------------------------------------------- data


def real_depths(directory: str | os.PathLike, limit: int | None = None):
    """uint16 depth PNGs of a directory, sorted (every k-th to keep ``limit``)."""
    import cv2

    files = sorted(glob.glob(os.path.join(os.path.expanduser(str(directory)), "*.png")))
    if not files:
        raise SystemExit(f"no *.png depth images in {directory}")
    if limit and len(files) > limit:
        files = files[:: int(np.ceil(len(files) / limit))]
    for f in files:
        d = cv2.imread(f, cv2.IMREAD_UNCHANGED)
        if d is None or d.dtype != np.uint16 or d.ndim != 2:
            raise SystemExit(f"{f}: not a single-channel uint16 depth PNG")
        yield d


def egocentric_scene_config():
    """Scenes like F-PHAB's: an arm and hand 0.3–0.55 m away over a table, objects, clutter behind."""
    from ..data.synthetic import SceneConfig

    return SceneConfig(num_hands=1, views=(0.0, 1.0, 0.0))  # the renderer's egocentric view


def synthetic_depths(preset: str, frames: int, seed: int = 0, width: int = 640, height: int = 480,
                     cam=FPHAB_CAM, batch: int = 4, device: str = "cpu", progress: bool = True):
    """Rendered scenes (:func:`egocentric_scene_config`) through ``preset``: H×W int depth per frame."""
    import torch
    from tqdm import tqdm

    from ..data.synthetic import sensor as S
    from ..data.synthetic.generator import _stack_prims, frame_generator
    from ..data.synthetic.render import cast
    from ..data.synthetic.scene import sample_scene, scene_primitives

    cfg = egocentric_scene_config()
    camt = np.asarray(cam, dtype=np.float64) * (width / 640.0)  # the intrinsics are for 640 px
    pbar = tqdm(total=frames, desc=f"render+{preset}", unit="frame", disable=not progress)
    for s in range(0, frames, batch):
        idx = range(s, min(s + batch, frames))
        gens = [frame_generator(seed, i) for i in idx]
        scenes = [sample_scene(g, width, height, cfg, preset, cam=camt) for g in gens]
        prims = _stack_prims([scene_primitives(sc)[0] for sc in scenes], device, torch.float32)
        camb = torch.as_tensor(np.stack([sc.cam for sc in scenes]), dtype=torch.float32, device=device)
        gb = cast(prims, camb, height, width)
        P = S.stack_sensor_params([S.sample_sensor_params(g, preset) for g in gens], device)
        depth = S.simulate_depth(gb.z, gb.normal, gb.albedo, camb, P, full_width=width)
        for d in depth.cpu().numpy():
            yield d
        pbar.update(len(idx))
    pbar.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real-depth-dir", help="directory of real uint16-mm depth PNGs (default: none, synthetic only)")
    ap.add_argument("--real-fx", type=float, default=FPHAB_FX, help="focal length of the real depth camera (px)")
    ap.add_argument("--preset", default="sr300", help="sensor preset for the rendered frames (default sr300)")
    ap.add_argument("--frames", type=int, default=48, help="rendered frames (default 48)")
    ap.add_argument("--real-frames", type=int, default=None, help="at most this many real frames (default: all)")
    ap.add_argument("--width", type=int, default=640, help="rendered width (F-PHAB's intrinsics scaled; default 640)")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", help="JSON output path (default: print)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    out = {"command": "python -m kpfusion_ros.tools.sensor_stats " + " ".join(argv if argv is not None else sys.argv[1:]),
           "python": platform.python_version(), "definitions": "see kpfusion_ros/tools/sensor_stats.py"}
    if args.real_depth_dir:
        out["real"] = depth_statistics(real_depths(args.real_depth_dir, args.real_frames), args.real_fx)
        out["real"]["fx"] = args.real_fx
    from dataclasses import asdict

    from ..data.synthetic.sensor import get_sensor

    out["preset"] = asdict(get_sensor(args.preset))
    out[f"synthetic_{args.preset}"] = depth_statistics(
        synthetic_depths(args.preset, args.frames, args.seed, args.width, args.height, device=args.device,
                         progress=not args.quiet), FPHAB_FX * args.width / 640.0)
    text = json.dumps(out, indent=1)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
