"""The demo run's summary: ``summary.json`` and the text ``kpfusion-demo`` prints.

Frames in and out, the node's own counts (sets synchronized, dropped as stale, bad) and
latency from its /diagnostics, the latency of the recorded poses (receive sim time − stamp),
and the MPJPE against the recording's ground truth (:mod:`kpfusion_ros.demo.scoring`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import numpy as np


def summarize(*, bag: Path, model: str, device: str, rate: float, lockstep: bool, played: int,
              diag: Optional[dict], n_out: int, latency_ms: list, scores: Optional[dict], output_counts: dict,
              files: dict, wall_s: float) -> dict:
    """The summary of one run (``scores``: :func:`~kpfusion_ros.demo.scoring.score`, None without ground truth)."""
    lat = np.asarray(latency_ms)
    d = diag or {}
    sets = d.get("sets_received")
    return {
        "bag": str(bag), "model": model, "device": device, "rate": rate, "lockstep": lockstep,
        "frames_in": played,
        "sets_received_by_node": sets,
        "frames_out": n_out,
        "dropped_stale_by_node": d.get("sets_dropped_stale"),
        "not_synchronized": (played - sets) if isinstance(sets, int) else None,
        "bad_frames": d.get("bad_frames"),
        "latency_ms_p50": d.get("latency_ms_p50"), "latency_ms_p95": d.get("latency_ms_p95"),
        "latency_recorded_ms_p50": float(np.median(lat)) if lat.size else None,
        "latency_recorded_ms_p95": float(np.percentile(lat, 95)) if lat.size else None,
        "inference_ms_p50": d.get("inference_ms_p50"),
        "ground_truth": scores is not None,
        "mpjpe_mm": scores["mpjpe_mm"] if scores else None,
        "mpjpe_mm_median": scores["mpjpe_mm_median"] if scores else None,
        "gt_hands_scored": scores["gt_hands"] if scores else None,
        "gt_hands_matched": scores["matched_hands"] if scores else None,
        "false_positives": scores["false_positives"] if scores else None,
        "match_centre_mm": scores["match_centre_mm"] if scores else None,
        "output_bag": "output_bag", "output_counts": dict(output_counts),
        "files": files, "wall_s": round(wall_s, 1),
        "node_diagnostics": d,
    }


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def write_summary(path: Path, summary: dict) -> None:
    path.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")


def _fmt(v, spec=".1f"):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v, spec) if isinstance(v, float) else str(v)


def format_summary(s: dict) -> str:
    """The text block ``kpfusion-demo`` prints (``s``: :func:`summarize`'s dict plus ``out``, the folder)."""
    lines = [
        "",
        "=== kpfusion demo summary ===",
        f"recording     {s['bag']}",
        f"model         {s['model']} (device {s['device']})",
        f"frames in     {s['frames_in']} played at rate {s['rate']}{' (lockstep)' if s['lockstep'] else ''}; "
        f"{_fmt(s['sets_received_by_node'])} synchronized by the node",
        f"frames out    {s['frames_out']} HandPoseArray",
        f"dropped       {_fmt(s['dropped_stale_by_node'])} stale (node slower than the camera: it keeps the newest), "
        f"{_fmt(s['not_synchronized'])} not synchronized, {_fmt(s['bad_frames'])} bad",
        f"latency       p50 {_fmt(s['latency_ms_p50'])} ms, p95 {_fmt(s['latency_ms_p95'])} ms (node, stamp to publish; "
        f"inference p50 {_fmt(s['inference_ms_p50'])} ms)" if not s["lockstep"] else
        f"latency       n/a in lockstep (the recording's clock waits for the node); inference p50 "
        f"{_fmt(s['inference_ms_p50'])} ms",
    ]
    if s["ground_truth"] and s["mpjpe_mm"] is None:
        lines.append(f"MPJPE         n/a: none of the {s['gt_hands_scored']} ground-truth hands in the output frames "
                     f"was matched (no predicted hand within {_fmt(s['match_centre_mm'], '.0f')} mm; "
                     f"{_fmt(s['false_positives'])} predictions elsewhere)")
    elif s["ground_truth"]:
        lines.append(f"MPJPE         {_fmt(s['mpjpe_mm'])} mm mean, {_fmt(s['mpjpe_mm_median'])} mm median over "
                     f"{s['gt_hands_matched']}/{s['gt_hands_scored']} ground-truth hands matched (same stamp, centres "
                     f"within {_fmt(s['match_centre_mm'], '.0f')} mm); {_fmt(s['false_positives'])} false positives")
    else:
        lines.append("MPJPE         n/a (no ground-truth topic in the recording)")
    lines.append(f"outputs       {s['out']}/: summary.json, {s['files'].get('gif', '-')}, "
                 f"{len(s['files'].get('png', []))} PNG, output_bag/ ({s['output_counts'].get('/kpfusion/hand_poses', 0)} "
                 f"hand_poses, {s['output_counts'].get('/kpfusion/markers', 0)} markers, "
                 f"{s['output_counts'].get('/diagnostics', 0)} diagnostics)")
    lines.append(f"wall time     {s['wall_s']} s")
    return "\n".join(lines)
