"""The package builds with colcon, and its install tree is what ROS users expect."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, ros_available

pytestmark = pytest.mark.skipif(not ros_available(), reason="needs the colcon install: run `make test`")


def _install_prefix() -> Path:
    import kpfusion_ros

    # .../install/kpfusion_ros/lib/python3.X/site-packages/kpfusion_ros/__init__.py
    return Path(kpfusion_ros.__file__).resolve().parents[4]


def test_installed_package_merges_generated_and_handwritten_modules():
    import kpfusion_ros
    import kpfusion_ros.geometry
    import kpfusion_ros.joints
    from kpfusion_ros.msg import HandPose, HandPoseArray

    pkg_dir = Path(kpfusion_ros.__file__).parent
    # both come from the one installed package directory, not from the source tree
    assert Path(kpfusion_ros.joints.__file__).parent == pkg_dir
    assert Path(sys.modules[HandPose.__module__].__file__).parent.parent == pkg_dir
    assert "site-packages" in str(pkg_dir) and str(REPO / "kpfusion_ros") != str(pkg_dir)
    arr = HandPoseArray()
    assert list(arr.hands) == []
    assert len(HandPose().joints) == 21


def test_message_joint_constants_match_the_core_joint_order():
    from kpfusion_ros.joints import JOINT_NAMES
    from kpfusion_ros.msg import HandPose

    for i, name in enumerate(JOINT_NAMES):
        assert getattr(HandPose, name.upper()) == i
    assert HandPose.NUM_JOINTS == len(JOINT_NAMES) == 21
    assert {HandPose.HANDEDNESS_UNKNOWN, HandPose.HANDEDNESS_LEFT, HandPose.HANDEDNESS_RIGHT} == {0, 1, 2}


def test_install_layout_for_ros2_run_and_launch():
    prefix = _install_prefix()
    node = prefix / "lib" / "kpfusion_ros" / "kpfusion_node"
    assert node.is_file() and os.access(node, os.X_OK)
    share = prefix / "share" / "kpfusion_ros"
    assert (share / "package.xml").is_file()
    assert (share / "launch").is_dir() and (share / "config").is_dir()
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "kpfusion_ros").is_file()


def test_core_import_pulls_in_no_ros_module():
    code = (
        "import sys, kpfusion_ros, kpfusion_ros.joints, kpfusion_ros.geometry\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('rclpy','std_msgs','sensor_msgs','geometry_msgs','message_filters','tf2_ros','cv_bridge'))\n"
        "assert not bad, bad\nprint('clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


@pytest.mark.slow
def test_colcon_builds_a_fresh_copy(tmp_path):
    """A clean colcon build of the package sources (not the Makefile's workspace)."""
    src = tmp_path / "src" / "kpfusion_ros"
    src.mkdir(parents=True)
    for item in ("CMakeLists.txt", "package.xml", "msg", "kpfusion_ros", "scripts", "launch", "config", "models"):
        p = REPO / item
        if p.is_dir():
            shutil.copytree(p, src / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(p, src / item)
    ws = tmp_path / "ws"
    ws.mkdir()
    res = subprocess.run(
        ["colcon", "--log-base", "log", "build", "--base-paths", str(tmp_path / "src"),
         "--build-base", "build", "--install-base", "install", "--event-handlers", "console_direct-"],
        cwd=ws, capture_output=True, text=True, timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    site = next((ws / "install" / "kpfusion_ros" / "lib").glob("python3*/site-packages"))
    assert (site / "kpfusion_ros" / "msg" / "_hand_pose_array.py").is_file()
    assert (site / "kpfusion_ros" / "geometry.py").is_file()
    assert (ws / "install" / "kpfusion_ros" / "share" / "kpfusion_ros" / "models" / "kpfusion_lite.pt").is_file()
    env = dict(os.environ, PYTHONPATH=f"{site}:{os.environ.get('PYTHONPATH', '')}",
               LD_LIBRARY_PATH=f"{ws / 'install' / 'kpfusion_ros' / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}")
    probe = subprocess.run(
        [sys.executable, "-c", "import kpfusion_ros.msg as m, kpfusion_ros.joints as j; "
         "print(m.__file__); print(j.__file__)"],
        cwd="/", env=env, capture_output=True, text=True,
    )
    assert probe.returncode == 0, probe.stderr
    assert all(str(site) in line for line in probe.stdout.split())
