"""``kpfusion-import-checkpoint AUTHORS.pth OUT.pt``: convert the authors' KeypointFusion
checkpoint (reference §6) into a kpfusion_ros checkpoint of the ``official`` model."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys

from ..checkpoint import CheckpointError, import_authors_checkpoint, save_checkpoint


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="kpfusion-import-checkpoint",
                                description="Import the authors' KeypointFusion checkpoint ({'model': {'module.…'}}) "
                                            "into the kpfusion_ros format (official configuration).")
    p.add_argument("src", help="authors' checkpoint, e.g. KPFusion_Dexycb_s0.pth")
    p.add_argument("out", help="output kpfusion_ros checkpoint (.pt)")
    p.add_argument("--half", action="store_true", help="store float tensors as float16")
    p.add_argument("--list-unused", action="store_true", help="print every ignored authors' key")
    a = p.parse_args(argv)
    try:
        model, report = import_authors_checkpoint(a.src)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    prov = {"source": os.path.basename(a.src), "source_sha256": _sha256(a.src),
            "importer": "kpfusion_ros.tools.import_checkpoint", "unused_keys": len(report["unused"])}
    save_checkpoint(a.out, model, report["config"], prov, half=a.half)
    print(f"loaded {report['loaded']} tensors, ignored {len(report['unused'])} unused keys -> {a.out}")
    if a.list_unused:
        print("\n".join(report["unused"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
