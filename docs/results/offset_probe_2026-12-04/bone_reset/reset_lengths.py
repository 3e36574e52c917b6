import numpy as np, os
from kpfusion_ros import joints as J
A=os.path.expanduser("~/.cache/kpfusion_ros/data/analysis")
for name in ["syn_ship","fphab_ship"]:
    d=np.load(f"{A}/{name}.npz"); P,G=d["pred"].astype(float),d["gt"].astype(float)
    e=lambda X: np.linalg.norm(X-G,axis=-1).mean()
    def rc(X): return X - X.mean(1,keepdims=True) + P.mean(1,keepdims=True)
    Lg=J.bone_lengths(G); Lp=J.bone_lengths(P)
    print(name, "net", e(P), "oracle lengths", e(rc(J.with_bone_lengths(P,Lg))), "oracle no-recentre", e(J.with_bone_lengths(P,Lg)))
    syn=np.load(f"{A}/syn_ship.npz")["gt"]; ref=np.median(J.bone_lengths(syn),0)
    palm=[k for k,(p,c) in enumerate(J.NETWORK_BONES) if p==0]
    s=Lp[:,palm].sum(1,keepdims=True)/ref[palm].sum()
    for a in [0.25,0.5,1.0]:
        L = (1-a)*Lp + a*ref[None]*s
        print("  blend",a, e(J.with_bone_lengths(P,L)), e(rc(J.with_bone_lengths(P,L))))
