"""Training of the Keypoint-Fusion network and its baselines on synthetic RGB-D frames.

* :mod:`.losses` — the reference's losses (§2): SmoothL1 ×0.01 (β = 0.01), weights
  1 (AWR offset/closeness maps) / 100 (AWR uvd pose) / 100 (stage poses) / 10 (W_hm).
* :mod:`.augment` — in-plane rotation of crops and labels (§3 "Augmentation", 'rot').
* :mod:`.data` — synthetic frames → per-hand GT-centred crops with one augmentation per
  sample ('rot' | 'com' | 'sc' | 'none'), left hands mirrored, batched on the device.
* :mod:`.trainer` — AdamW + step schedule, resumable checkpoints, CSV/PNG logs.
"""

from .losses import LossWeights, compute_losses, smooth_l1, whm_target
from .augment import rotate_crops
from .data import DataConfig, HandBatch, SyntheticCropStream, make_hand_batch
from .trainer import TrainConfig, Trainer

__all__ = ["LossWeights", "compute_losses", "smooth_l1", "whm_target", "rotate_crops", "DataConfig",
           "HandBatch", "SyntheticCropStream", "make_hand_batch", "TrainConfig", "Trainer"]
