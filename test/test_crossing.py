"""Rendered sequences in which the two hands cross (kpfusion_ros/data/synthetic/crossing.py)."""

import functools

import numpy as np
import pytest

from kpfusion_ros.data.synthetic import SyntheticConfig
from kpfusion_ros.data.synthetic.crossing import (Crossing, clearance_mm, joint_mean_mm, order_weight, rate_limited,
                                                  separated, skin_spheres, bounding_sphere)
from kpfusion_ros.data.synthetic.sequence import sequence_scenes

CFG = SyntheticConfig(width=320, height=240)
FRAMES, SECOND_AT, CROSS_AT = 120, 0.2, 0.6  # the crossing's 1.9 s window fits after the left hand's entry
SEEDS = (1, 2)  # with these, the left hand crosses behind (1) and in front of (2) the right one


@functools.lru_cache(maxsize=None)
def _scenes(seed: int, cross: bool):
    return sequence_scenes(seed, FRAMES, 30.0, CFG, second_hand_at=SECOND_AT, cross_at=CROSS_AT if cross else None)


def test_rate_limited_covers_the_pushes_and_bounds_the_change_per_frame():
    push = np.array([0.0, 0.0, 100.0, 0.0, 0.0, 0.0])
    out = rate_limited(push, 30.0)
    assert np.allclose(out, [40.0, 70.0, 100.0, 70.0, 40.0, 10.0])
    assert (out >= push).all() and np.abs(np.diff(out)).max() <= 30.0
    assert np.allclose(rate_limited(np.zeros(3), 5.0), 0.0)


def test_separated_needs_clearance_and_the_depth_order_where_the_images_overlap():
    a_c, a_r, r = np.array([[0.0, 0.0, 500.0]]), np.array([10.0]), np.array([10.0])
    behind = np.array([[0.0, 0.0, 530.0]])  # on the same ray, 30 mm deeper: 10 mm of skin gap
    assert separated(a_c, a_r, behind, r, +1.0, 5.0)  # 30 >= 10 + 10 + 5 in depth order
    assert not separated(a_c, a_r, behind, r, -1.0, 5.0)  # it is not in front
    assert not separated(a_c, a_r, np.array([[0.0, 0.0, 522.0]]), r, +1.0, 5.0)  # 2 mm of skin gap < 5
    side = np.array([[200.0, 0.0, 500.0]])  # far apart in the image: either order
    assert separated(a_c, a_r, side, r, +1.0, 5.0) and separated(a_c, a_r, side, r, -1.0, 5.0)
    assert order_weight(a_c, a_r, side, r)[0, 0] == 0.0 and order_weight(a_c, a_r, behind, r)[0, 0] == 1.0


def test_a_crossing_that_does_not_fit_the_sequence_is_refused():
    with pytest.raises(ValueError, match="must lie"):
        sequence_scenes(3, 60, 30.0, CFG, cross_at=0.5)


@pytest.mark.parametrize("seed", SEEDS)
def test_crossing_hands_meet_in_the_image_without_passing_through_each_other(seed):
    plain, crossed = _scenes(seed, False), _scenes(seed, True)
    assert len(crossed) == FRAMES
    two = [i for i, sc in enumerate(crossed) if len(sc.hands) == 2]
    assert two and two == [i for i, sc in enumerate(plain) if len(sc.hands) == 2]
    last_order, prev_b, steps, overlapping = None, None, [], 0
    for i in two:
        a, b = crossed[i].hands
        # the first hand, its object and the left hand's pose are those of the sequence without the crossing
        pa = plain[i].hands[0]
        assert np.array_equal(a.t, pa.t) and np.array_equal(a.pose, pa.pose)
        assert np.array_equal(b.pose, plain[i].hands[1].pose) and np.array_equal(b.R, plain[i].hands[1].R)
        ca, ra = skin_spheres(a)
        oc, orad = bounding_sphere(crossed[i].objects[0])
        ca, ra = np.vstack([ca, oc[None]]), np.append(ra, orad)
        cb, rb = skin_spheres(b)
        assert clearance_mm(ca, ra, cb, rb) >= 4.5  # the margin (5 mm), less the bisection's step
        if (order_weight(ca, ra, cb, rb) >= 1.0).any():  # the images overlap: one depth order, held
            overlapping += 1
            orders = [o for o in (1.0, -1.0) if separated(ca, ra, cb, rb, o, 0.0)]
            assert len(orders) == 1, i
            assert last_order in (None, orders[0]), f"frame {i}: the hands passed through each other"
            last_order = orders[0]
        else:
            last_order = None
        jb = joint_mean_mm(b)
        if prev_b is not None:
            steps.append(float(np.linalg.norm(jb - prev_b)))
        prev_b = jb
    assert overlapping >= 10  # one hand covers the other for a while
    assert max(steps) <= 60.0  # mm per frame at 30 fps (the pull and the pushes are smooth)
    # on the hold, the left hand's joint mean is over the right one's at the drawn lateral offset (pushes are in
    # depth only), at least the drawn gap apart in depth
    from kpfusion_ros.data.synthetic.crossing import CROSS_STREAM
    from kpfusion_ros.data.synthetic.generator import frame_generator

    T = (FRAMES - 1) / 30.0
    plan = Crossing.draw(frame_generator(seed, CROSS_STREAM), CROSS_AT * T)
    hold = [i for i in two if plan.weight(i / 30.0) == 1.0]
    assert len(hold) >= 8  # 0.3 s at 30 fps
    for i in hold:
        ja, jb = joint_mean_mm(crossed[i].hands[0]), joint_mean_mm(crossed[i].hands[1])
        assert np.allclose(jb[:2] - ja[:2], plan.offset_mm, atol=1e-6)
        assert abs(jb[2] - ja[2]) >= plan.gap_mm - 1e-6


def test_both_depth_orders_occur_and_a_crossing_is_deterministic():
    k = int(round(CROSS_AT * (FRAMES - 1)))
    behind = [bool(joint_mean_mm(_scenes(s, True)[k].hands[1])[2] > joint_mean_mm(_scenes(s, True)[k].hands[0])[2])
              for s in SEEDS]
    assert behind == [True, False]
    again = sequence_scenes(SEEDS[1], FRAMES, 30.0, CFG, second_hand_at=SECOND_AT, cross_at=CROSS_AT)
    assert all(np.array_equal(h.t, g.t) for x, y in zip(again, _scenes(SEEDS[1], True))
               for h, g in zip(x.hands, y.hands))


def test_crossing_draw_is_in_its_documented_ranges():
    from kpfusion_ros.data.synthetic.generator import frame_generator

    for s in range(20):
        c = Crossing.draw(frame_generator(s, 7), 2.0)
        assert 60.0 <= c.gap_mm <= 120.0 and np.abs(c.offset_mm).max() <= 25.0
        assert c.weight(c.start) == 0.0 and c.weight(c.t_cross) == 1.0 and c.weight(c.end) == 0.0
        assert 0.0 < c.weight(c.start + c.ramp_s / 2) < 1.0
