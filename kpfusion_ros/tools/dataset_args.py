"""Command-line selection of a dataset, shared by kpfusion-train and kpfusion-eval."""

from __future__ import annotations

import argparse

from kpfusion_ros.data.datasets import DATASETS, dataset_reader


def add_dataset_arguments(p: argparse.ArgumentParser, default_split: str = "test") -> None:
    p.add_argument("--dataset", default="synthetic", choices=DATASETS,
                   help="synthetic (rendered on the fly), or a real dataset under --data-root: dexycb (the "
                        "authors' annotation JSON), dexycb-toolkit (the native layout), ho3d (v2/v3), fphab "
                        "(F-PHAB, depth registered to the colour camera at 640×360)")
    p.add_argument("--data-root", default="", help="dataset root for --dataset dexycb/dexycb-toolkit/ho3d/fphab")
    p.add_argument("--split", default=default_split, help="dataset split (dexycb: train/test; ho3d: train/evaluation)")
    p.add_argument("--setup", default="s0", help="DexYCB setup s0..s3 (--dataset dexycb)")
    p.add_argument("--ho3d-version", default="v3", choices=["v2", "v3"])
    p.add_argument("--fphab-sequences", nargs="*", default=None, metavar="SEQ",
                   help="F-PHAB sequences (Subject_1/put_salt/1) or prefixes (Subject_1); default: all under "
                        "--data-root (--split is not used for fphab)")


def open_dataset(args):
    """The reader selected by :func:`add_dataset_arguments` (None for synthetic frames)."""
    if args.dataset != "synthetic" and not args.data_root:
        raise SystemExit(f"--dataset {args.dataset} needs --data-root")
    return dataset_reader(args.dataset, args.data_root, split=args.split, setup=args.setup,
                          ho3d_version=args.ho3d_version, fphab_sequences=getattr(args, "fphab_sequences", None))
