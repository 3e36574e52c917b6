"""ROS-free install of the kpfusion_ros library and its command-line tools.

`pip install .` gives researchers the network, geometry, data, training and
evaluation code and the console scripts below, with no ROS needed. The ROS 2
node and messages are built with colcon (see README); this file is not used by
colcon (the package's build type is ament_cmake).
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def _requirements():
    lines = (HERE / "requirements" / "core.txt").read_text().splitlines()
    reqs = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    # Any recent torch works; on our CPU-only machines requirements/dev.txt pins the CPU build.
    return reqs + ["torch>=2.1"]


CONSOLE_SCRIPTS = [
    "kpfusion-import-checkpoint=kpfusion_ros.tools.import_checkpoint:main",
    "kpfusion-bench-model=kpfusion_ros.tools.bench_model:main",
    "kpfusion-make-splits=kpfusion_ros.tools.make_splits:main",
    "kpfusion-contact-sheet=kpfusion_ros.tools.contact_sheet:main",
    "kpfusion-train=kpfusion_ros.tools.train:main",
    "kpfusion-export=kpfusion_ros.tools.export:main",
    "kpfusion-eval=kpfusion_ros.tools.evaluate:main",
    "kpfusion-eval-real=kpfusion_ros.tools.eval_real:main",
    "kpfusion-experiments=kpfusion_ros.tools.experiments:main",
    "kpfusion-make-demo-bag=kpfusion_ros.tools.make_demo_bag:main",
    "kpfusion-demo=kpfusion_ros.tools.demo:main",
    "kpfusion-bag=kpfusion_ros.tools.bag:main",
    "kpfusion-bench-node=kpfusion_ros.tools.bench_node:main",
    "kpfusion-soak=kpfusion_ros.tools.soak:main",
    "kpfusion-bench-localizer=kpfusion_ros.tools.bench_localizer:main",
    "kpfusion-bench-train=kpfusion_ros.tools.bench_train:main",
    "kpfusion-sensor-stats=kpfusion_ros.tools.sensor_stats:main",
    "kpfusion-train-verifier=kpfusion_ros.tools.train_verifier:main",
]

setup(
    name="kpfusion_ros",
    version="0.1.0",
    description="Keypoint-Fusion RGB-D 3D hand pose estimation (AAAI-24) for ROS 2, with a ROS-free core",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["kpfusion_ros", "kpfusion_ros.*"]),
    install_requires=_requirements(),
    extras_require={"test": ["pytest", "hypothesis"]},
    entry_points={"console_scripts": CONSOLE_SCRIPTS},
)
