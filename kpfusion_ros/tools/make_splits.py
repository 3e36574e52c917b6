"""Write fixed synthetic evaluation splits to disk (deterministic per seed).

    kpfusion-make-splits --out DIR --num N --seed S [--width 640 --height 480 --num-hands {0,1,2}]

Writes DIR/color/*.png, DIR/depth/*.png (uint16 mm), DIR/instance/*.png,
DIR/labels.npz, DIR/labels.json and DIR/meta.json (format:
:mod:`kpfusion_ros.data.synthetic.split`); read back with
``kpfusion_ros.data.synthetic.SyntheticSplit(DIR)``.
"""

from __future__ import annotations

import argparse


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kpfusion-make-splits", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output split directory")
    ap.add_argument("--num", type=int, required=True, help="number of frames")
    ap.add_argument("--seed", type=int, required=True, help="stream seed (frames are (seed, 0..num-1))")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--num-hands", type=int, choices=(0, 1, 2), default=None,
                    help="hands per frame (default: random 1 or 2)")
    ap.add_argument("--clean", action="store_true", help="no sensor defects")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--device", default="cpu", help="torch device for rendering (e.g. cuda)")
    args = ap.parse_args(argv)

    from ..data.synthetic import SceneConfig, SyntheticConfig
    from ..data.synthetic.split import write_split

    cfg = SyntheticConfig(width=args.width, height=args.height, clean=args.clean,
                          scene=SceneConfig(num_hands=args.num_hands))
    out = write_split(args.out, args.num, args.seed, cfg, device=args.device,
                      batch_size=args.batch_size, progress=True)
    print(f"wrote {args.num} frames to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
