import sys, torch, numpy as np
from kpfusion_ros.evaluation.evaluate import EvalConfig, _iter_chunks, make_hand_batch, CropConfig, predictions_to_camera
from kpfusion_ros.tools.evaluate import load_any
model, mc = load_any(sys.argv[2] if len(sys.argv)>2 else "models/kpfusion_lite.pt", "cpu")
cfg = EvalConfig(num_frames=int(sys.argv[3]) if len(sys.argv)>3 else 96, width=320, height=240)
cc = CropConfig.for_model(mc, cube_mm=cfg.cube_mm); g = torch.Generator().manual_seed(0)
P, G = [], []
with torch.no_grad():
    for fr in _iter_chunks(cfg, False, ""):
        hb = make_hand_batch(fr, cc, g, augment=False, cube_mm=cfg.cube_mm, device=torch.device("cpu"))
        out = model(*hb.inputs())
        m, _ = predictions_to_camera(out.poses[-1].float(), hb.crops)
        P.append(m.numpy()*1000); G.append(hb.joints_mm.float().numpy())
np.savez(sys.argv[1], pred=np.concatenate(P), gt=np.concatenate(G))
