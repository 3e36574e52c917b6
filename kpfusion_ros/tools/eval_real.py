"""kpfusion-eval-real: the network and the node's pipeline on real RGB-D frames (a local dataset copy).

Example (F-PHAB; research-only data: commit only the numbers and this command)::

    kpfusion-eval-real --dataset fphab --data-root ~/.cache/kpfusion_ros/data/fphab \
        --json /tmp/fphab_real.json --md /tmp/fphab_real.md \
        --candidates ~/.cache/kpfusion_ros/data/fphab_inspect/candidates.json

Protocols (kpfusion_ros.evaluation.real_frames): ``gt_crops`` (crops at the GT joint mean, with the
trivial baselines: the mean training pose at the GT centre, all joints at the centre) and ``node``
(HandPosePipeline at the node's defaults over every sequence in frame order).

The same protocols on rendered sequences (tracking, published confidence and the ``min_hand_confidence``
trade-off on frames with a known truth, e.g. to choose a threshold before looking at real frames)::

    kpfusion-eval-real --synthetic-sequences 101,102,103,104 --sequence-frames 120 --width 320 --height 240 \
        --protocols node --json /tmp/synthetic_sequences.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace

from .dataset_args import add_dataset_arguments, open_dataset
from ..tracking import CROP_SIDES, MERGE_KEEPS, SIDE_SOURCES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kpfusion-eval-real", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[1:]))
    add_dataset_arguments(p, default_split="test")
    p.set_defaults(dataset="fphab")
    p.add_argument("--synthetic-sequences", default="", metavar="SEEDS",
                   help="instead of a dataset: rendered sequences (comma-separated seeds; a right hand that "
                        "grasps and carries an object, a left hand entering later, clutter) through the same "
                        "protocols")
    p.add_argument("--sequence-frames", type=int, default=120, help="frames per rendered sequence (30 fps)")
    p.add_argument("--cross-at", type=float, default=None, metavar="FRAC",
                   help="rendered sequences: the left hand crosses in front of or behind the right one at this "
                        "fraction of the sequence (kpfusion_ros/data/synthetic/crossing.py; default: no crossing)")
    p.add_argument("--width", type=int, default=320, help="rendered sequences: image width")
    p.add_argument("--height", type=int, default=240, help="rendered sequences: image height")
    from ..data.synthetic import SENSORS

    p.add_argument("--sensor", default="mixed",
                   help=f"rendered sequences: depth sensor preset ({', '.join(sorted(SENSORS))}; mixed = one per frame)")
    p.add_argument("--model", default="", help="checkpoint; empty = the node's default (the shipped weights); "
                                               "random:<preset> = untrained weights")
    p.add_argument("--verifier", default="", help="hand verifier weights; empty = the node's default (the shipped "
                   "models/hand_verifier.pt); 'none' = the geometric localiser alone")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto")
    p.add_argument("--protocols", default="gt_crops,node", help="comma list of gt_crops, node")
    p.add_argument("--max-frames", type=int, default=0, help="only the first N frames in sequence order (0 = all)")
    p.add_argument("--match-mm", type=float, default=80.0, help="detection ↔ labelled hand centre distance")
    p.add_argument("--mean-pose-frames", type=int, default=None,
                   help="synthetic training frames averaged for the mean-pose baseline (default 1024)")
    p.add_argument("--min-hand-confidence", type=float, default=None,
                   help="the node's min_hand_confidence for the node protocol (default: the node's default; 0 "
                        "publishes every tracked hand: the trade-off table's full range)")
    p.add_argument("--centre-score-weight", type=float, default=None,
                   help="the node's centre_score_weight for the node protocol (default: the node's default)")
    p.add_argument("--side-source", choices=SIDE_SOURCES, default=None,
                   help="the node's side_source for the node protocol (default: the node's default)")
    p.add_argument("--min-side-estimates", type=int, default=None,
                   help="the tracker's min_side_estimates for the node protocol: a side stays UNKNOWN until this many "
                        "estimates (default: the tracker's default)")
    p.add_argument("--side-retest-every", type=int, default=None,
                   help="with --side-source stability: test a decided hand's side again on every N-th frame of its "
                        "track (0 = never; default: the node's default)")
    p.add_argument("--side-window", type=int, default=None,
                   help="a track's side is the mean of its last N side estimates (0 = all; default: the node's)")
    p.add_argument("--merge-keeps", choices=MERGE_KEEPS, default=None,
                   help="the tracker's merge_keeps: which of two duplicate tracks is kept (default: the node's)")
    p.add_argument("--crop-side", choices=CROP_SIDES, default=None,
                   help="the tracker's crop_side: mirror a track's crop once its side is published LEFT ('decided') "
                        "or whenever its side mean leans left ('likelier'; default: the node's)")
    p.add_argument("--min-handedness-confidence", type=float, default=None,
                   help="the node's min_handedness_confidence: a side less confident than this is UNKNOWN (default: "
                        "the node's)")
    p.add_argument("--side-gain", type=float, default=None,
                   help="with --side-source stability: the side test's gain on ln(spread ratio) (default: "
                        "SideTestConfig's)")
    p.add_argument("--side-size-gain", type=float, default=None,
                   help="with --side-source stability: the side test's gain on ln(size ratio), 0 = spread alone "
                        "(default: SideTestConfig's; docs/results/side_size_2026-12-03/)")
    p.add_argument("--refine-iterations", type=int, default=None,
                   help="the node's refine_iterations for the node protocol (default: the node's default; 0 = the "
                        "tracked centre's crop only)")
    p.add_argument("--blank-colour", action="store_true",
                   help="give the network black colour images (as training's rgb_drop does): what colour adds")
    p.add_argument("--json", default="", help="write the results here (per-frame candidate lists excluded)")
    p.add_argument("--md", default="", help="write the Markdown tables here")
    p.add_argument("--offset-probe-mm", type=float, default=0.0,
                   help="gt_crops protocol: also crop every labelled hand this far off its GT centre along +-x, "
                        "+-y, +-z and report how much of the offset the network undoes (0 = off)")
    p.add_argument("--candidates", default="",
                   help="write every frame's localiser candidates (scores, centre errors) here; derived from the "
                        "dataset: keep it out of the repository")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _clean(x):
    """JSON without NaN/inf (null instead)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _synthetic_sequences(args):
    from ..data.synthetic import SyntheticConfig, SyntheticSequences, get_sensor

    try:
        seeds = [int(s) for s in args.synthetic_sequences.split(",") if s.strip()]
        get_sensor(args.sensor)
        reader = SyntheticSequences(seeds, num_frames=args.sequence_frames, cross_at=args.cross_at,
                                    config=SyntheticConfig(width=args.width, height=args.height, sensor=args.sensor))
        if args.cross_at is not None:
            reader[0]  # a crossing that does not fit the sequence is an argument error: say so before the run
        return reader
    except (ValueError, KeyError) as e:
        raise SystemExit(f"kpfusion-eval-real: --synthetic-sequences: {e}") from e


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from ..evaluation.real_frames import MEAN_POSE_FRAMES, RealEvalConfig, evaluate_real, markdown_table
    from ..node_config import NodeConfig, pipeline_config

    if args.synthetic_sequences:
        reader, dataset_name = _synthetic_sequences(args), "synthetic-sequences"
    elif args.dataset == "synthetic":
        raise SystemExit("kpfusion-eval-real evaluates a real dataset: use --dataset fphab|dexycb|dexycb-toolkit|ho3d "
                         "with --data-root, or --synthetic-sequences SEEDS for rendered sequences (kpfusion-eval covers "
                         "single synthetic frames)")
    else:
        reader, dataset_name = open_dataset(args), args.dataset
    pcfg = pipeline_config(NodeConfig(hand_verifier_path=args.verifier))
    pcfg = replace(pcfg, device=args.device, model_path=args.model or pcfg.model_path)
    if args.min_hand_confidence is not None:
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, min_hand_confidence=args.min_hand_confidence))
    if args.centre_score_weight is not None:
        if not 0.0 <= args.centre_score_weight <= 1.0:
            raise SystemExit(f"kpfusion-eval-real: --centre-score-weight must be in [0, 1], got {args.centre_score_weight}")
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, centre_score_weight=args.centre_score_weight))
    if args.side_source is not None:
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, side_source=args.side_source))
    if args.min_side_estimates is not None:
        if args.min_side_estimates < 1:
            raise SystemExit(f"kpfusion-eval-real: --min-side-estimates must be >= 1, got {args.min_side_estimates}")
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, min_side_estimates=args.min_side_estimates))
    if args.side_retest_every is not None:
        if args.side_retest_every < 0:
            raise SystemExit(f"kpfusion-eval-real: --side-retest-every must be >= 0, got {args.side_retest_every}")
        pcfg = replace(pcfg, side_test=replace(pcfg.side_test, retest_every=args.side_retest_every))
    if args.side_window is not None:
        if args.side_window < 0:
            raise SystemExit(f"kpfusion-eval-real: --side-window must be >= 0, got {args.side_window}")
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, side_window=args.side_window))
    if args.crop_side is not None:
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, crop_side=args.crop_side))
    if args.merge_keeps is not None:
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, merge_keeps=args.merge_keeps))
    if args.min_handedness_confidence is not None:
        if not 0.5 <= args.min_handedness_confidence <= 1.0:
            raise SystemExit("kpfusion-eval-real: --min-handedness-confidence must be in [0.5, 1], got "
                             f"{args.min_handedness_confidence}")
        pcfg = replace(pcfg, tracker=replace(pcfg.tracker, min_handedness_confidence=args.min_handedness_confidence))
    try:
        if args.side_gain is not None:
            pcfg = replace(pcfg, side_test=replace(pcfg.side_test, gain=args.side_gain))
        if args.side_size_gain is not None:
            pcfg = replace(pcfg, side_test=replace(pcfg.side_test, size_gain=args.side_size_gain))
    except ValueError as exc:
        raise SystemExit(f"kpfusion-eval-real: {exc}")
    if args.refine_iterations is not None:
        if args.refine_iterations < 0:
            raise SystemExit(f"kpfusion-eval-real: --refine-iterations must be >= 0, got {args.refine_iterations}")
        pcfg = replace(pcfg, refine_iterations=args.refine_iterations)
    if args.offset_probe_mm < 0:
        raise SystemExit(f"kpfusion-eval-real: --offset-probe-mm must be >= 0, got {args.offset_probe_mm}")
    cfg = RealEvalConfig(protocols=tuple(p for p in args.protocols.split(",") if p), match_mm=args.match_mm,
                         max_frames=args.max_frames, candidates=bool(args.candidates), blank_colour=args.blank_colour,
                         offset_probe_mm=args.offset_probe_mm,
                         mean_pose_frames=MEAN_POSE_FRAMES if args.mean_pose_frames is None else args.mean_pose_frames)
    try:
        res = evaluate_real(reader, pcfg, cfg, progress=not args.quiet)
    except ValueError as e:
        raise SystemExit(f"kpfusion-eval-real: {e}") from e
    res["dataset"] = {"name": dataset_name, "reader": type(reader).__name__, "frames": len(reader),
                      "sequences": [s for s in getattr(reader, "sequences", [])]}
    res["command"] = "kpfusion-eval-real " + " ".join(sys.argv[1:] if argv is None else argv)
    cands = res.pop("candidates", None)
    md = markdown_table(res)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(_clean(res), f, indent=1)
    if args.md:
        with open(args.md, "w") as f:
            f.write(md + "\n")
    if args.candidates and cands is not None:
        with open(args.candidates, "w") as f:
            json.dump(_clean(cands), f, indent=1)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
