"""The clean synthetic scene recipe (kpfusion_ros.data.synthetic.presets)."""

from __future__ import annotations

import numpy as np

from kpfusion_ros.data.synthetic import SceneConfig, render_frame
from kpfusion_ros.data.synthetic.presets import RENDER_MAX, clean_frames, clean_scene_config


def test_clean_scene_switches_off_everything_but_the_hands():
    cfg = clean_scene_config(320, 240, num_hands=2)
    assert (cfg.width, cfg.height, cfg.clean) == (320, 240, True)
    s = cfg.scene
    assert s.num_hands == 2 and s.clutter == (0, 0)
    assert s.p_occluder == s.p_near_object == s.p_grasp == s.p_edge == s.p_table == 0.0
    assert s.p_left == SceneConfig().p_left  # not part of the recipe
    o = clean_scene_config(64, 48, p_edge=0.12, p_left=0.0).scene
    assert (o.num_hands, o.p_edge, o.p_left, o.clutter) == (1, 0.12, 0.0, (0, 0))
    f = render_frame(5, 0, clean_scene_config(64, 48, num_hands=2))
    assert f.joints_mm.shape[0] == 2 and f.color.shape == (48, 64, 3)
    assert set(np.unique(f.instance)) <= {-1, 0, 1}  # only hands in the scene (no objects, no clutter)


def test_clean_frames_upscale_above_the_render_size():
    w, h = RENDER_MAX
    (base,) = clean_frames(1, w, h, seed=2)
    (big,) = clean_frames(1, 2 * w, 2 * h, seed=2)
    assert big.color.shape == (2 * h, 2 * w, 3) and big.depth.shape == (2 * h, 2 * w)
    assert np.array_equal(big.color[::2, ::2], base.color) and np.array_equal(big.depth[::2, ::2], base.depth)
    np.testing.assert_allclose(np.asarray(big.cam, dtype=np.float64), np.asarray(base.cam, dtype=np.float64) * 2)
    np.testing.assert_array_equal(big.joints_mm, base.joints_mm)
