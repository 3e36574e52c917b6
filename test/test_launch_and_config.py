"""Launch files and the parameter file agree with the node's parameters."""

from __future__ import annotations

import ast
import importlib.util
import py_compile

import pytest
import yaml

from conftest import REPO
from kpfusion_ros.node_config import NodeConfig, yaml_text

LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))


def test_parameter_file_lists_every_parameter_with_the_code_defaults():
    doc = yaml.safe_load((REPO / "config" / "kpfusion.yaml").read_text())
    params = doc["/**"]["ros__parameters"]
    specs = {name: default for name, default, *_ in NodeConfig.field_specs()}
    assert set(params) == set(specs)
    for name, default in specs.items():
        assert params[name] == default, name
        assert type(params[name]) is type(default), f"{name}: {type(params[name])} vs {type(default)}"
    # generated text is exactly what is committed (regenerate: python -m kpfusion_ros.node_config)
    assert (REPO / "config" / "kpfusion.yaml").read_text() == yaml_text()


def test_every_parameter_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    for name, *_ in NodeConfig.field_specs():
        assert f"`{name}`" in readme, f"parameter {name} missing from README"


def test_default_config_is_valid_and_validation_rejects_bad_values():
    assert NodeConfig().validate() == []
    bad = NodeConfig(slop=0.0, max_hands=0, min_range=1.5, max_range=1.2, tf_prefix="/x", device="gpu",
                     qos_reliability="sometimes")
    errs = " | ".join(bad.validate())
    for word in ("slop", "max_hands", "min_range", "tf_prefix", "device", "qos_reliability"):
        assert word in errs


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_files_compile_and_define_generate_launch_description(path):
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(path.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None,
                    reason="ROS 2 launch/launch_ros are not installable on machines without a ROS distribution")
def test_main_launch_file_declares_arguments_and_node():  # pragma: no cover - runs on a ROS distribution
    from launch.launch_description_sources import get_launch_description_from_python_launch_file
    from launch_ros.actions import Node

    ld = get_launch_description_from_python_launch_file(str(REPO / "launch" / "kpfusion.launch.py"))
    names = {a.name for a in ld.get_launch_arguments()}
    assert {"camera_ns", "model", "device", "params_file", "use_rviz"} <= names
    nodes = [e for e in ld.entities if isinstance(e, Node)]
    assert any(n.node_package == "kpfusion_ros" and n.node_executable == "kpfusion_node" for n in nodes)
