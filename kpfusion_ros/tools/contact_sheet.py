"""Render a PNG contact sheet of synthetic samples: colour, colourised depth, skeleton overlay.

    kpfusion-contact-sheet --out sheet.png --num 16 --seed 0 [--width 640 --height 480]

Each sample is one row of three tiles: the colour image, the depth (turbo colour
map, invalid = black) and the colour image with the projected skeleton (bones in
the finger colours of :mod:`kpfusion_ros.joints`; visible joints filled, occluded
joints hollow, left hands labelled L).
"""

from __future__ import annotations

import argparse

import numpy as np


def colorize_depth(depth: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """uint16 mm → H×W×3 uint8 RGB (turbo), 0 (invalid) → black."""
    import cv2

    d = depth.astype(np.float32)
    ok = d > 0
    if not ok.any():
        return np.zeros(depth.shape + (3,), np.uint8)
    lo = float(np.percentile(d[ok], 1)) if lo is None else lo
    hi = float(np.percentile(d[ok], 99)) if hi is None else hi
    x = np.clip((d - lo) / max(hi - lo, 1.0), 0, 1)
    bgr = cv2.applyColorMap((x * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    rgb = bgr[..., ::-1].copy()
    rgb[~ok] = 0
    return rgb


def draw_skeleton(color: np.ndarray, frame) -> np.ndarray:
    """Colour image (RGB) with each hand's projected skeleton drawn on it."""
    import cv2

    from ..joints import FINGER_COLORS, NETWORK_BONES, NETWORK_JOINT_FINGER

    img = np.ascontiguousarray(color[..., ::-1].copy())  # BGR for cv2
    fx, fy, cx, cy = frame.cam
    sc = max(1, int(round(img.shape[1] / 320)))
    for h in range(frame.num_hands):
        J = frame.joints_mm[h]
        z = np.maximum(J[:, 2], 1e-3)
        uv = np.stack([J[:, 0] * fx / z + cx, J[:, 1] * fy / z + cy], -1)
        pts = np.round(uv).astype(int)
        for p, c in NETWORK_BONES:
            col = tuple(int(255 * x) for x in FINGER_COLORS[NETWORK_JOINT_FINGER[c]][::-1])
            cv2.line(img, tuple(pts[p]), tuple(pts[c]), col, sc, cv2.LINE_AA)
        for j in range(len(J)):
            col = tuple(int(255 * x) for x in FINGER_COLORS[NETWORK_JOINT_FINGER[j]][::-1])
            cv2.circle(img, tuple(pts[j]), 2 * sc, col, -1 if frame.visible[h, j] else 1, cv2.LINE_AA)
        tag = "R" if frame.handedness[h] == "right" else "L"
        cv2.putText(img, tag, tuple(pts[0] + np.array([4, 4])), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * sc, (255, 255, 255), sc)
    return img[..., ::-1]


def sheet(frames, cols: int = 2) -> np.ndarray:
    """Rows of (colour | depth | skeleton) per frame, ``cols`` frames per row."""
    tiles = []
    for f in frames:
        tiles.append(np.concatenate([f.color, colorize_depth(f.depth), draw_skeleton(f.color, f)], axis=1))
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.full((rows * (h + 4), cols * (w + 8), 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (h + 4): r * (h + 4) + h, c * (w + 8): c * (w + 8) + w] = t
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kpfusion-contact-sheet", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output PNG path")
    ap.add_argument("--num", type=int, default=16, help="number of samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first frame index")
    ap.add_argument("--width", type=int, default=320, help="render width (px)")
    ap.add_argument("--height", type=int, default=240, help="render height (px)")
    ap.add_argument("--num-hands", type=int, choices=(0, 1, 2), default=None, help="default: random 1 or 2")
    ap.add_argument("--clean", action="store_true", help="no sensor defects")
    ap.add_argument("--cols", type=int, default=2, help="samples per row")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    import cv2
    from tqdm import tqdm

    from ..data.synthetic import SceneConfig, SyntheticConfig, render_frame

    cfg = SyntheticConfig(width=args.width, height=args.height, clean=args.clean,
                          scene=SceneConfig(num_hands=args.num_hands))
    frames = [render_frame(args.seed, args.start + i, cfg, args.device)
              for i in tqdm(range(args.num), desc="render", unit="frame")]
    img = sheet(frames, args.cols)
    cv2.imwrite(args.out, img[..., ::-1])
    print(f"wrote {args.out} ({img.shape[1]}x{img.shape[0]}, {args.num} samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
