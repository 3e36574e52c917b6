"""Run a tool or script with TrackerConfig.merge_keeps set (how this study's runs were made, before merge_keeps
became a node parameter; jumps.py and kpfusion-bag now take it as ``--param merge_keeps=...``):

    python -P run_with.py matched -m kpfusion_ros.tools.eval_real ARGS...
    python -P run_with.py matched ../side_reset_2026-12-02/jumps.py log 401,402,403 A.json
"""
import runpy
import sys
from dataclasses import replace

from kpfusion_ros import node_config

keeps, target, *rest = sys.argv[1:]
orig = node_config.pipeline_config


def pipeline_config(cfg):
    pc = orig(cfg)
    return replace(pc, tracker=replace(pc.tracker, merge_keeps=keeps))


node_config.pipeline_config = pipeline_config
if target == "-m":  # the tools import pipeline_config from node_config when they run: the patch reaches them
    mod, *rest = rest
    sys.argv = [mod, *rest]
    runpy.run_module(mod, run_name="__main__", alter_sys=True)
else:
    sys.argv = [target, *rest]
    runpy.run_path(target, run_name="__main__")
