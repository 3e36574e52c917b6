"""The demo job's pieces above the ROS layer (``kpfusion-demo``; scoring is shared with ``kpfusion-bag --score``).

:mod:`.scoring` – MPJPE of published HandPoseArrays against the recording's ground truth
(same stamp, hands matched by centre); :mod:`.overlay` – the recording's frames with the
ground truth and the predictions drawn, as a GIF and PNGs; :mod:`.summary` – the run's
summary (``summary.json`` and the text ``kpfusion-demo`` prints). The replay itself (player,
node process, recorder) is in :mod:`kpfusion_ros.ros.player`.
"""
