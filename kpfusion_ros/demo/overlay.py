"""The recording's frames with ground truth and predictions drawn, written as ``overlay.gif`` and a few PNGs.

Ground truth as thin white skeletons, predictions in finger colours with their id and
confidence (:func:`kpfusion_ros.draw.draw_skeleton`), a caption per frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kpfusion_ros.demo.scoring import hand_arrays

GIF_MAX_FRAMES = 150  # longer recordings are subsampled in the GIF


def draw_overlay(rgb: np.ndarray, gt_msg, pred_msg, text: str) -> np.ndarray:
    """A copy of ``rgb`` with the ground-truth and predicted HandPoseArrays (either may be None) and ``text``."""
    import cv2

    from kpfusion_ros.draw import draw_skeleton
    from kpfusion_ros.joints import BONES

    img = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    if gt_msg is not None:
        for _, _, px, _ in hand_arrays(gt_msg):
            ok = np.all(np.isfinite(px), axis=1) & (np.abs(px) < 1e5).all(axis=1)
            ip = np.zeros_like(px, dtype=np.int64)
            ip[ok] = np.round(px[ok]).astype(np.int64)
            for p, c in BONES:
                if ok[p] and ok[c]:
                    cv2.line(img, tuple(map(int, ip[p])), tuple(map(int, ip[c])), (255, 255, 255), 1, cv2.LINE_AA)
    if pred_msg is not None:
        for h in pred_msg.hands:
            px = np.stack([np.asarray(h.pixel_u, dtype=np.float64), np.asarray(h.pixel_v, dtype=np.float64)], axis=1)
            roi = (h.roi.x_offset, h.roi.y_offset, h.roi.width, h.roi.height)
            draw_skeleton(img, px, label=f"{h.id}: {h.confidence:.2f}", roi=roi, thickness=2)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1, cv2.LINE_AA)
    return img


def recording_overlays(bag: Path, color_topic: str, n_frames: int, gt: dict, preds: dict) -> tuple[list, float]:
    """The first ``n_frames`` color images of ``bag`` with ``gt`` / ``preds`` ({stamp ns: HandPoseArray})
    drawn: ([(stamp ns, RGB image)], the recording's frame rate)."""
    from cv_bridge import CvBridge

    from kpfusion_ros.ros import bagio
    from kpfusion_ros.ros.conversions import color_to_rgb

    bridge = CvBridge()
    frames = []
    for i, (_, typ, _, raw) in enumerate(bagio.read_messages(bag, [color_topic])):
        if i >= n_frames:
            break
        m = bagio.deserialize(raw, typ)
        s = bagio.stamp_ns(m.header.stamp)
        p = preds.get(s)
        text = f"{i:3d}  {len(p.hands)} hand(s)" if p is not None else f"{i:3d}  no output (dropped)"
        frames.append((s, draw_overlay(color_to_rgb(m, bridge), gt.get(s), p, text)))
    stamps = [s for s, _ in frames]
    fps = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / 1e9) if len(stamps) > 1 else 30.0
    return frames, fps


def write_images(out: Path, frames: list[tuple[int, np.ndarray]], has_pred: set, fps: float,
                 n_png: int = 4) -> dict:
    """``overlay.gif`` (all frames, at most GIF_MAX_FRAMES) and ``n_png`` PNGs spread over the frames
    with output (stamps in ``has_pred``), in ``out``; {"gif": name, "png": [names]}."""
    import cv2
    from PIL import Image as PILImage

    files = {}
    if not frames:
        return files
    step = max(1, int(math.ceil(len(frames) / GIF_MAX_FRAMES)))
    sel = frames[::step]
    pil = [PILImage.fromarray(img).quantize(colors=128, method=PILImage.Quantize.MEDIANCUT) for _, img in sel]
    gif = out / "overlay.gif"
    pil[0].save(gif, save_all=True, append_images=pil[1:], duration=int(round(1000.0 * step / fps)), loop=0,
                optimize=False)
    files["gif"] = gif.name
    cands = [(s, img) for s, img in frames if s in has_pred] or frames
    idx = np.unique(np.linspace(0, len(cands) - 1, min(n_png, len(cands))).round().astype(int))
    pngs = []
    for k, i in enumerate(idx):
        p = out / f"frame_{k:02d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(cands[i][1], cv2.COLOR_RGB2BGR))
        pngs.append(p.name)
    files["png"] = pngs
    return files
