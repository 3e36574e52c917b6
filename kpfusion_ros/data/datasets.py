"""The real-dataset readers by name: which exist, and opening one (shared by training and evaluation)."""

from __future__ import annotations

#: Dataset names: ``synthetic`` (rendered on the fly: no reader) and the real-dataset readers.
DATASETS = ("synthetic", "dexycb", "dexycb-toolkit", "ho3d", "fphab")


def dataset_reader(name: str, data_root: str, *, split: str = "test", setup: str = "s0",
                   ho3d_version: str = "v3", fphab_sequences=None):
    """The reader of dataset ``name`` under ``data_root`` (None for ``synthetic``).

    ``split``: dexycb train/test, ho3d train/evaluation; ``setup``: DexYCB s0..s3 (``dexycb``);
    ``ho3d_version``: v2 or v3; ``fphab_sequences``: F-PHAB sequences (``Subject_1/put_salt/1``)
    or prefixes (``Subject_1``), None = all under the root. Raises ValueError for an unknown name
    or a missing root.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; one of {list(DATASETS)}")
    if name == "synthetic":
        return None
    if not data_root:
        raise ValueError(f"dataset {name} needs a data root")
    if name == "dexycb":
        from kpfusion_ros.data.dexycb import DexYCBJson
        return DexYCBJson(data_root, setup=setup, split=split)
    if name == "dexycb-toolkit":
        from kpfusion_ros.data.dexycb import DexYCBToolkit
        return DexYCBToolkit(data_root)
    if name == "fphab":
        from kpfusion_ros.data.fphab import FPHAB
        return FPHAB(data_root, sequences=fphab_sequences)
    from kpfusion_ros.data.ho3d import HO3D
    return HO3D(data_root, split=split, version=ho3d_version)
