"""Data sources for training and evaluation (ROS-free). What is here:

* :mod:`.synthetic` — the renderer: aligned RGB-D hand frames with exact 21-joint labels,
  generated on the fly from (seed, index); the frame types every reader returns
  (``HandFrame``, one frame; ``FrameBatch``, frames batched on a device) live there for now;
* :mod:`.dexycb` — DexYCB readers (the authors' annotation JSON, the dex-ycb-toolkit layout);
* :mod:`.ho3d` — the HO-3D v2/v3 reader;
* :mod:`.datasets` — the readers by name (:func:`~.datasets.dataset_reader`), for training and
  evaluation;
* :mod:`.batching` — a list of frames from any reader → one ``FrameBatch``.

The real datasets are research-only and not shipped: the readers read a local copy.
"""
