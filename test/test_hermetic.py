"""scripts/hermetic.sh: the private network namespace and the private /dev/shm every DDS run gets."""

from __future__ import annotations

import os
import subprocess
import uuid

from conftest import REPO


def test_hermetic_run_has_only_loopback_and_its_own_dev_shm():
    """Inside: loopback is the only interface (and up), /dev/shm is a fresh tmpfs; a file written there
    (as Fast DDS writes its segments) is gone from the caller's /dev/shm afterwards and never appears in it."""
    name = f"kpf_probe_{uuid.uuid4().hex}"
    env = {k: v for k, v in os.environ.items() if k != "KPF_IN_NETNS"}
    script = (f"touch /dev/shm/{name} && ls /dev/shm | wc -l && cat /proc/net/dev | tail -n +3 | cut -d: -f1 "
              "&& ip -o link show lo")
    r = subprocess.run([str(REPO / "scripts" / "hermetic.sh"), "bash", "-c", script], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "could not mount a private /dev/shm" not in r.stderr
    lines = r.stdout.split()
    assert lines[0] == "1", r.stdout  # only our probe: none of the caller's segments are visible inside
    assert "lo" in lines and "UP" in r.stdout and not any(x.startswith(("eth", "ens", "wl")) for x in lines)
    assert not os.path.exists(f"/dev/shm/{name}")
