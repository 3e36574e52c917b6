"""Launch files and the parameter file agree with the node's parameters."""

from __future__ import annotations

import ast
import importlib.util
import py_compile

import pytest
import yaml

from conftest import REPO
from kpfusion_ros.node_config import REALSENSE_NS, REALSENSE_TOPICS, NodeConfig, yaml_text

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
                     resolution_mismatch="sometimes")
    errs = " | ".join(bad.validate())
    for word in ("slop", "max_hands", "min_range", "tf_prefix", "device", "resolution_mismatch"):
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


def test_main_launch_file_remaps_the_inputs_onto_the_realsense_topics():
    """Read from the source (launch_ros is not installable here): the node's three relative inputs are remapped
    to <camera_ns>/<realsense-ros topic>, and no topic is passed as a parameter."""
    tree = ast.parse((REPO / "launch" / "kpfusion.launch.py").read_text())
    remaps = next(n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == "remappings" for t in n.targets))
    found = {}
    for pair in remaps.elts:
        src, call = pair.elts
        assert isinstance(call, ast.Call) and call.func.id == "topic"
        found[src.value] = (call.args[0].value, call.args[1].value)
    assert found == {name: (arg, "/" + rs) for (name, rs), arg in
                     zip(REALSENSE_TOPICS.items(), ("color_topic", "depth_topic", "camera_info_topic"))}
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "Node"
                and any(k.arg == "executable" and k.value.value == "kpfusion_node" for k in n.keywords))
    kw = {k.arg: k.value for k in node.keywords}
    assert isinstance(kw["remappings"], ast.Name) and kw["remappings"].id == "remappings"
    params = [d for d in kw["parameters"].elts if isinstance(d, ast.Dict)]
    assert {k.value for d in params for k in d.keys} == {"model_path", "device"}
    camera_ns = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") ==
                     "DeclareLaunchArgument" and n.args[0].value == "camera_ns")
    assert {k.arg: k.value.value for k in camera_ns.keywords if k.arg == "default_value"} == \
        {"default_value": REALSENSE_NS}


def test_parameter_file_documents_the_qos_overrides():
    """The commented example at the end of the YAML, uncommented, is a valid qos_overrides block for the
    realsense-ros topics with the node's default input QoS."""
    from kpfusion_ros.node_config import INPUT_QOS, realsense_topic

    text = (REPO / "config" / "kpfusion.yaml").read_text()
    block = text[text.index("    # qos_overrides:"):]
    doc = yaml.safe_load("\n".join(line.replace("# ", "", 1) for line in block.splitlines()))
    assert doc["qos_overrides"] == {realsense_topic(n): {"subscription": INPUT_QOS} for n in REALSENSE_TOPICS}
