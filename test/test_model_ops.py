"""Hand-computed numeric checks of the model's building blocks (AWR, ball query, kNN, GAM, heatmap,
transformer layers)."""

import math

import pytest
import torch
import torch.nn as nn

from kpfusion_ros.model.awr import decode_awr, joint2offset, point_joint_offset
from kpfusion_ros.model.point_ops import ball_query, knn_inverse_sq_weights, interpolate_map_at_points
from kpfusion_ros.model.rgb_kfam import geometry_adjacency_map, joint_heatmap
from kpfusion_ros.model.transformer import CrossAttentionDecoderLayer, PostLNEncoderLayer


def test_awr_decode_hand_computed():
    # 8×8 depth → S=2 by nearest: samples (0,0), (0,4), (4,0), (4,4)
    depth = torch.full((1, 1, 8, 8), 0.5)
    depth[0, 0, 0, 0], depth[0, 0, 0, 4], depth[0, 0, 4, 0], depth[0, 0, 4, 4] = 0.1, 0.2, 1.0, 0.3
    J = 1
    p = torch.zeros(1, 5 * J, 2, 2)
    p[0, 0] = 1.0                        # Û = (1, 0, 0)
    p[0, 3] = 0.5                        # H = 0.5
    p[0, 4] = torch.tensor([[0.0, math.log(2)], [5.0, 0.0]])  # (1,0) is background → masked
    out = decode_awr(p, depth, 0.8)
    # weights 0.25/0.5/0.25, candidates P_p + 0.4·(1,0,0)
    assert torch.allclose(out[0, 0], torch.tensor([0.65, -0.25, 0.2]), atol=1e-6)


def test_awr_decode_equals_the_candidate_formula_values_and_gradients():
    """decode_awr's two sums (no B×J×3×S² tensor) against Σ_p w·(P_p + (K − K·H·m)·Û·m) written out
    candidate by candidate (reference §1.2), float64: values and the gradient reaching the P map."""
    from kpfusion_ros.model.awr import MASKED_LOGIT, downsample_depth, pixel_uvd

    def candidates(pmap, depth, kernel):
        B, C5, S, _ = pmap.shape
        J = C5 // 5
        d = downsample_depth(depth, S)
        pts = pixel_uvd(d)
        mask = (d.reshape(B, 1, S * S) < 0.99).to(pmap.dtype)
        off = pmap[:, : 3 * J].reshape(B, J, 3, S * S)
        heat = pmap[:, 3 * J: 4 * J].reshape(B, J, S * S)
        logit = pmap[:, 4 * J:].reshape(B, J, S * S)
        w = torch.softmax(torch.where(mask > 0, logit, torch.full_like(logit, MASKED_LOGIT)), dim=-1)
        cand = pts.transpose(1, 2).unsqueeze(1) + (kernel - kernel * heat * mask).unsqueeze(2) * off * mask.unsqueeze(1)
        return (cand * w.unsqueeze(2)).sum(-1)

    g = torch.Generator().manual_seed(3)
    B, J, S = 3, 21, 16
    pmap = torch.randn(B, 5 * J, S, S, generator=g, dtype=torch.float64, requires_grad=True)
    depth = torch.rand(B, 1, 4 * S, 4 * S, generator=g, dtype=torch.float64) * 1.6 - 0.8
    depth[torch.rand(depth.shape, generator=g) < 0.4] = 1.0  # background pixels are masked
    ours, ref = decode_awr(pmap, depth, 0.8), candidates(pmap, depth, 0.8)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-13)
    up = torch.randn(ours.shape, generator=g, dtype=torch.float64)
    g1, = torch.autograd.grad(ours, pmap, up)
    g2, = torch.autograd.grad(ref, pmap, up)
    torch.testing.assert_close(g1, g2, rtol=0, atol=1e-13)
    assert g1[:, 4 * J:].abs().max() > 0 and g1[:, :3 * J].abs().max() > 0  # every part of the map is reached


def test_joint2offset_roundtrip_recovers_joint():
    torch.manual_seed(0)
    depth = torch.zeros(1, 1, 32, 32) + 0.1 * torch.rand(1, 1, 32, 32)
    depth[..., :, 20:] = 1.0
    joints = torch.tensor([[[0.0, 0.1, 0.05], [-0.3, -0.2, 0.0]]])
    tgt = joint2offset(joints, depth, 0.8, feature_size=8)
    assert tgt.shape == (1, 8, 8, 8)
    heat = tgt[:, 6:8]
    logits = torch.where(heat > 0, torch.zeros_like(heat), torch.full_like(heat, -1e4))
    pmap = torch.cat([tgt, logits], 1)
    assert torch.allclose(decode_awr(pmap, depth, 0.8), joints, atol=1e-4)
    # masked where the pixel is background
    assert (tgt[:, :, :, 5:] == 0).all()


def test_point_joint_offset_masks():
    pcl = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.995]]])
    joints = torch.tensor([[[0.4, 0.0, 0.0]]])
    o = point_joint_offset(joints, pcl, 0.8)
    assert o.shape == (1, 3, 4)
    assert torch.allclose(o[0, 0], torch.tensor([1.0, 0, 0, 0.5]), atol=1e-6)
    assert torch.allclose(o[0, 1], torch.tensor([-1.0, 0, 0, 0.25]), atol=1e-6)
    assert (o[0, 2] == 0).all()  # z ≥ 0.99 is masked


def test_ball_query_first_k_in_index_order_and_padding():
    xyz = torch.tensor([[[5.0, 0, 0], [0.1, 0, 0], [0.2, 0, 0], [3.0, 0, 0], [0.05, 0, 0], [0.3, 0, 0]]])
    centers = torch.tensor([[[0.0, 0, 0], [10.0, 0, 0], [3.0, 0, 0]]])
    idx = ball_query(xyz, centers, 0.25, 4)
    assert idx[0, 0].tolist() == [1, 2, 4, 1]       # first hits in index order, padded with the first
    assert idx[0, 1].tolist() == [0, 0, 0, 0]       # empty ball → index 0 (pointnet2 behaviour)
    assert idx[0, 2].tolist() == [3, 3, 3, 3]
    assert ball_query(xyz, centers, 1.0, 2)[0, 0].tolist() == [1, 2]   # truncated to k
    assert ball_query(xyz, centers, 0.2, 3)[0, 0].tolist() == [1, 4, 1]  # strict d² < r²
    assert ball_query(xyz, centers, 1.0, 10).shape == (1, 3, 10)          # k > number of points


def test_knn_inverse_squared_weights():
    ref = torch.tensor([[[1.0, 0, 0], [0, 2.0, 0], [0, 0, 3.0], [4.0, 0, 0], [0, 5.0, 0]]])
    w, idx = knn_inverse_sq_weights(torch.zeros(1, 1, 3), ref, 4)
    assert sorted(idx[0, 0].tolist()) == [0, 1, 2, 3]
    inv = torch.tensor([1.0, 1 / 4, 1 / 9, 1 / 16])
    exp = {i: v for i, v in zip(range(4), (inv / inv.sum()).tolist())}
    for j, i in enumerate(idx[0, 0].tolist()):
        assert w[0, 0, j].item() == pytest.approx(exp[i], rel=1e-5)
    fmap = torch.arange(5.0).view(1, 1, 1, 5)  # values 0..4 at ref indices
    v = interpolate_map_at_points(fmap, w, idx)
    assert v.item() == pytest.approx(sum(exp[i] * i for i in range(4)), rel=1e-5)


def test_gam_and_heatmap_values():
    j = torch.zeros(1, 1, 3)
    pix = torch.tensor([[[0.1, 0, 0], [0, 0, 0], [0.3, 0.4, 0]]])
    g = geometry_adjacency_map(j, pix, 10.0, plus_one=True)
    assert torch.allclose(g[0, 0], torch.tensor([1 / 1.1, 1.0, 1 / 3.5]), atol=1e-6)
    g2 = geometry_adjacency_map(j, pix[:, [0, 2]], 10.0, plus_one=False)
    assert torch.allclose(g2[0, 0], torch.tensor([10.0, 0.4]), atol=1e-5)
    hm = joint_heatmap(torch.zeros(1, 1, 2), 4, std=0.8, sigma=1.0)   # joint at pixel corner (2, 2)
    assert hm.shape == (1, 1, 4, 4)
    e = math.exp(-((0.5 / 0.8) ** 2 * 2) / 2)
    assert hm[0, 0, 1, 1].item() == pytest.approx(e, rel=1e-6)
    assert hm[0, 0, 2, 1].item() == pytest.approx(e, rel=1e-6)
    assert hm[0, 0, 0, 1].item() == pytest.approx(math.exp(-((1.5 / 0.8) ** 2 + (0.5 / 0.8) ** 2) / 2), rel=1e-6)


def test_post_ln_layer_matches_torch_reference():
    torch.manual_seed(0)
    ours = PostLNEncoderLayer(32, 4, 16, 0.1).eval()
    ref = nn.TransformerEncoderLayer(32, 4, 16, 0.1, activation="gelu", layer_norm_eps=1e-12,
                                     batch_first=True, norm_first=False).eval()
    with torch.no_grad():
        for p in ours.parameters():
            p.normal_()
        ref.self_attn.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        ref.self_attn.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        ref.self_attn.out_proj.load_state_dict(ours.attn_out.state_dict())
        ref.linear1.load_state_dict(ours.ffn_in.state_dict())
        ref.linear2.load_state_dict(ours.ffn_out.state_dict())
        ref.norm1.load_state_dict(ours.attn_norm.state_dict())
        ref.norm2.load_state_dict(ours.ffn_norm.state_dict())
    x = torch.randn(2, 21, 32)
    assert torch.allclose(ours(x), ref(x), atol=1e-4)


def test_cross_layer_matches_torch_mha():
    torch.manual_seed(0)
    layer = CrossAttentionDecoderLayer(32, 4, 32, 21, 0.1).eval()
    mha = nn.MultiheadAttention(32, 4, batch_first=True).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_()
        mha.in_proj_weight.copy_(layer.in_proj_weight)
        mha.in_proj_bias.copy_(layer.in_proj_bias)
        mha.out_proj.load_state_dict(layer.out_proj.state_dict())
    q, k = torch.randn(2, 21, 32), torch.randn(2, 21, 32)
    qp = q + layer.self_posembed.weight
    kp = k + layer.cross_posembed.weight   # k = v both carry the position embedding
    a = mha(qp, kp, kp, need_weights=False)[0]
    x = layer.norm2(q + a)
    x = layer.norm3(x + layer.linear2(torch.relu(layer.linear1(x))))
    assert torch.allclose(layer(q, k), x, atol=1e-5)


def test_square_distance_same_bits_as_the_plain_formula():
    from kpfusion_ros.model.point_ops import square_distance

    g = torch.Generator().manual_seed(0)
    for dt in (torch.float32, torch.float64):
        a, b = torch.rand(3, 50, 3, generator=g, dtype=dt), torch.rand(3, 70, 3, generator=g, dtype=dt)
        assert torch.equal(square_distance(a, b), ((a.unsqueeze(2) - b.unsqueeze(1)) ** 2).sum(-1))


def test_nearest_neighbours_equal_the_exhaustive_search():
    """The two-pass k-NN (matmul candidates, exact re-rank) against topk over square_distance: the same
    distances bit for bit and the same neighbours, on random clouds and on a crop's lifted pixels."""
    from kpfusion_ros.model import preset
    from kpfusion_ros.model.awr import downsample_depth
    from kpfusion_ros.model.example_inputs import example_inputs
    from kpfusion_ros.model.point_ops import lift_pixels, nearest_neighbours, square_distance

    def exhaustive(q, r, k):
        return torch.topk(square_distance(q, r), k, dim=-1, largest=False)

    g = torch.Generator().manual_seed(1)
    cases = [(torch.rand(2, 300, 3, generator=g, dtype=dt) * 2 - 1, torch.rand(2, 500, 3, generator=g, dtype=dt) * 2 - 1)
             for dt in (torch.float32, torch.float64)]
    cfg = preset("lite")
    x = example_inputs(cfg, batch=3, seed=2)
    S = cfg.crop_size // 4
    ref = lift_pixels(downsample_depth(x["depth"], S), x["center"], x["M"], x["cube"], x["cam"], cfg.crop_size)
    cases.append((x["pcl"], ref))  # the model's own call: sampled points → lifted feature-map pixels
    cases.append((torch.zeros(1, 2, 3), torch.rand(1, 6, 3, generator=g)))  # P ≤ 2k: exhaustive
    import kpfusion_ros.model.point_ops as point_ops

    default_block = point_ops.KNN_CPU_BLOCK
    for block in (default_block, 2 * 512 * 1024, 1):  # CPU batch slices: the default (1 crop), 2 of 3, 1 crop
        point_ops.KNN_CPU_BLOCK = block
        try:
            for q, r in cases:
                for k in (1, 4):
                    d, i = nearest_neighbours(q, r, k)
                    de, ie = exhaustive(q, r, k)
                    assert torch.equal(d, de)
                    assert torch.equal(i, ie)
        finally:
            point_ops.KNN_CPU_BLOCK = default_block
    # a realistic shape is what the speed-up is for (B×512 points × 32² pixels in the lite model)
    assert ref.shape[1] == S * S and x["pcl"].shape[1] == cfg.num_points


def test_rgb_kfam_equals_the_dense_relu_fc():
    """K_RGB_j = FC_{S²→1}(ReLU(mix_j ⊙ F)) (Eq. (3)), computed without the B×J×C×S² tensor, equals the
    dense formula, values and gradients (the mixing weights are ≥ 0)."""
    import torch.nn.functional as F

    from kpfusion_ros.model import preset
    from kpfusion_ros.model.rgb_kfam import RGBKFAM

    torch.manual_seed(0)
    cfg = preset("official")
    m = RGBKFAM(dim=16, num_joints=5, feature_size=8, crop_size=32).double()
    B, S = 2, 8
    feat = torch.randn(B, 16, S, S, dtype=torch.float64, requires_grad=True)
    joints = (torch.rand(B, 5, 3, dtype=torch.float64) * 1.6 - 0.8).requires_grad_(True)
    pix = torch.rand(B, S * S, 3, dtype=torch.float64) * 2 - 1
    center = torch.tensor([[0.0, 0.0, 500.0]] * B, dtype=torch.float64)
    M = torch.eye(3, dtype=torch.float64).expand(B, 3, 3).clone()
    cube = torch.full((B, 3), 250.0, dtype=torch.float64)
    cam = torch.tensor([[600.0, 600.0, 16.0, 16.0]] * B, dtype=torch.float64)
    with torch.no_grad():
        m.weight_dis.fill_(0.3)
    k, whm = m(feat, joints, pix, center, M, cube, cam)
    # the dense formula on the same maps
    jx = joints if not m.gam_joints_as_uvd else None
    from kpfusion_ros.geometry import uvd_nl_to_xyz_nl
    from kpfusion_ros.model.rgb_kfam import geometry_adjacency_map
    jx = uvd_nl_to_xyz_nl(joints, center, M, cube, cam, m.crop) if m.gam_joints_as_uvd else joints
    gam = geometry_adjacency_map(jx, pix, m.gamma, m.plus_one).view(B, 5, S, S)
    a = torch.sigmoid(m.weight_dis)
    mix = a * gam + (1 - a) * whm
    dense = m.fc_spatial2joint_feature(F.relu(mix.unsqueeze(2) * feat.unsqueeze(1)).view(B, 5, 16, S * S)).view(B, 5, 16)
    assert torch.allclose(k, dense, atol=1e-12, rtol=1e-10)
    g1 = torch.autograd.grad(k.sum(), (feat, joints), retain_graph=True)
    g2 = torch.autograd.grad(dense.sum(), (feat, joints))
    assert all(torch.allclose(x, y, atol=1e-10, rtol=1e-8) for x, y in zip(g1, g2))
    del cfg
