"""The kpfusion node's parameters: one typed dataclass, the ROS boundary of the core's configs.

The node declares one ROS parameter per field (with the field's description and
read-only flag in its ParameterDescriptor); ``config/kpfusion.yaml`` and the
README's table list the same names and defaults, and a test keeps them equal.
Parameters that configure the core take their defaults from the core's configs
(:class:`~kpfusion_ros.pipeline.PipelineConfig`, :class:`~kpfusion_ros.localization.LocalizerConfig`,
:class:`~kpfusion_ros.tracking.TrackerConfig`), converted to the ROS units (metres);
:func:`pipeline_config` maps them back, the one place where metres become millimetres.
ROS-free so that the YAML can be checked without ROS.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, replace

from kpfusion_ros.localization import LocalizerConfig
from kpfusion_ros.pipeline import PipelineConfig
from kpfusion_ros.side_test import SideTestConfig
from kpfusion_ros.tracking import CROP_SIDES, MERGE_KEEPS, SIDE_SOURCES, TrackerConfig

#: The node's input topics: relative names, resolved in the node's namespace and remapped onto the
#: camera's topics (``--ros-args -r color/image_raw:=/my_camera/color/image_raw``; the launch files do it
#: from their ``camera_ns`` argument). The subscriptions' QoS is set by ``qos_overrides.<topic>.subscription.*``.
COLOR_TOPIC, DEPTH_TOPIC, CAMERA_INFO_TOPIC = "color/image_raw", "depth/image_raw", "color/camera_info"
#: Namespace of a realsense-ros camera (``camera_namespace``/``camera_name`` both ``camera``) ...
REALSENSE_NS = "/camera/camera"
#: ... and the topic under it that each input is remapped to (depth aligned to color).
REALSENSE_TOPICS = {COLOR_TOPIC: "color/image_raw", DEPTH_TOPIC: "aligned_depth_to_color/image_raw",
                    CAMERA_INFO_TOPIC: "color/camera_info"}


#: QoS of the three input subscriptions unless overridden (``qos_overrides.<resolved topic>.subscription.
#: <policy>``, values as rclpy names them): best effort receives from best-effort and reliable publishers.
INPUT_QOS = {"reliability": "best_effort", "history": "keep_last", "depth": 5}


def realsense_topic(name: str, camera_ns: str = REALSENSE_NS) -> str:
    """The realsense-ros topic that the launch files remap input ``name`` to."""
    return f"{camera_ns.rstrip('/')}/{REALSENSE_TOPICS[name]}"


def _p(default, description: str, *, read_only: bool = False, choices: tuple = ()):
    return field(default=default, metadata={"description": description, "read_only": read_only,
                                             "choices": choices})


@dataclass
class NodeConfig:
    # --- inputs (topics: remap COLOR_TOPIC, DEPTH_TOPIC, CAMERA_INFO_TOPIC; QoS: qos_overrides) ------
    queue_size: int = _p(10, "message_filters synchronizer queue size per input.", read_only=True)
    slop: float = _p(0.05, "Approximate synchronization window in seconds (float).", read_only=True)
    exact_sync: bool = _p(False, "Use exact time synchronization instead of approximate.", read_only=True)
    use_rectified_intrinsics: bool = _p(False, "Read intrinsics from P (rectified images) instead of K.")
    resolution_mismatch: str = _p("resize", "When depth and color sizes differ: 'resize' the registered depth "
                                  "to the color size (nearest), or 'reject' the frame.", choices=("resize", "reject"))
    topic_timeout: float = _p(5.0, "Warn (throttled, naming the topic) when an input has sent nothing for this "
                              "many seconds.")
    max_future_s: float = _p(2.0, "Frames stamped further than this ahead of the node's clock are skipped.")
    # --- model --------------------------------------------------------------------------------
    model_path: str = _p(PipelineConfig.model_path, "Model checkpoint; empty = the shipped weights "
                         "(share/kpfusion_ros/models).", read_only=True)
    device: str = _p(PipelineConfig.device, "auto, cpu, cuda or cuda:N; falls back to the CPU (logged) without "
                     "CUDA.", read_only=True)
    fp16: bool = _p(PipelineConfig.fp16, "Half precision inference (CUDA only).", read_only=True)
    torch_threads: int = _p(PipelineConfig.torch_threads, "CPU threads of the network's operators in the node's "
                            "process (torch.set_num_threads); 0 = torch's default, one per core. On a small CPU "
                            "shared with the camera driver, fewer avoid oversubscription (docs/demo.md).",
                            read_only=True)
    cube_size: float = _p(PipelineConfig.cube_mm / 1000.0, "Edge of the metric crop cube around each hand, metres.",
                          read_only=True)
    # --- finding hands ------------------------------------------------------------------------
    max_hands: int = _p(LocalizerConfig.max_hands, "Most hands estimated per frame.")
    min_range: float = _p(LocalizerConfig.min_range_mm / 1000.0, "Nearest depth searched for hands, metres.")
    max_range: float = _p(LocalizerConfig.max_range_mm / 1000.0, "Farthest depth searched for hands, metres.")
    min_hand_score: float = _p(LocalizerConfig.min_score, "Localiser candidates whose p(hand) (the hand "
                               "verifier's score, 0..1) is lower are not tracked; 0 tracks every candidate the "
                               "verifier keeps (more false hands; trade-off: docs/real_frames.md).")
    hand_verifier_path: str = _p(LocalizerConfig.verifier_path, "Weights of the localiser's hand verifier; empty = "
                                 "the shipped models/hand_verifier.pt; 'none' = the geometric score alone.",
                                 read_only=True)
    refine_iterations: int = _p(PipelineConfig.refine_iterations, "Re-crops around the predicted joint mean, each "
                                "with another forward pass: 2 costs three passes per frame, 0 one (what each "
                                "gains: docs/results/refine_2026-12-02/).")
    min_refine_confidence: float = _p(TrackerConfig.min_refine_confidence, "Within a frame, only poses at least "
                                      "this confident (0..1) are re-cropped at their joint mean "
                                      "(refine_iterations); less confident ones keep their crop.")
    min_pose_confidence: float = _p(TrackerConfig.min_pose_confidence, "Only poses at least this confident (0..1) "
                                    "move their track's crop centre to their joint mean for the next frame; "
                                    f"{TrackerConfig.max_low_confidence} poses in a row that do not (less "
                                    "confident, no finite joint, or a jump of more than "
                                    f"{TrackerConfig.max_pose_jump_mm / 1000.0:g} m) while the hand is not "
                                    "detected end the track.")
    min_coast_confidence: float = _p(TrackerConfig.min_coast_confidence, "A tracked hand not detected in this "
                                     "frame is still published while its pose is at least this confident (0..1); "
                                     "detected hands are published at any confidence.")
    max_hand_speed: float = _p(TrackerConfig.gate_speed_mm_s / 1000.0,
                               "Fastest hand motion tracked, m/s: a detection continues a track within "
                               f"{TrackerConfig.gate_mm / 1000.0:g} m + this × the time since the track was last "
                               f"seen (at most {TrackerConfig.max_gate_mm / 1000.0:g} m); 0 = a fixed gate.")
    min_hand_confidence: float = _p(TrackerConfig.min_hand_confidence, "Only hands whose overall confidence "
                                    "(0..1: the track's mean p(hand), and with centre_score_weight its centre "
                                    "score) is at least this are published; the trade-off between hands "
                                    "found and false hands per threshold: docs/real_frames.md.")
    centre_score_weight: float = _p(TrackerConfig.centre_score_weight, "Share (0..1) of the centre score (the "
                                    "hand verifier's mean p(hand) at the joint mean of the track's poses) in the "
                                    "overall confidence; the rest is the track's mean p(hand) at its "
                                    "detections. 0 was chosen on rendered sequences; on a cluttered real "
                                    "worktop a share drops objects the localiser mistakes for hands "
                                    "(docs/real_frames.md, docs/results/centre_score_2026-12-02/).")
    side_source: str = _p(TrackerConfig.side_source, "Where a hand's side comes from: 'verifier' (the hand "
                          "verifier's side head, per detection) or 'stability' (the pose network run on the crop "
                          "and on its mirror image, a few crops each: the side whose joints move less wins; costs "
                          "about 18 more crops per undecided hand and frame; docs/real_frames.md).",
                          choices=SIDE_SOURCES)
    min_side_estimates: int = _p(TrackerConfig.min_side_estimates, "A hand's side stays UNKNOWN until its track "
                                 "has taken this many side estimates (1..30); with side_source 'stability' the "
                                 "test runs until then (10 did best on rendered sequences: "
                                 "docs/results/side_stability_2026-12-02/).")
    side_retest_every: int = _p(SideTestConfig.retest_every, "With side_source 'stability': a hand whose side "
                                "is decided is tested again on every this-many-th frame of its track (0 = never), "
                                "so that a track which has moved onto the other hand turns round (with "
                                "side_window; docs/results/side_reset_2026-12-02/).")
    side_window: int = _p(TrackerConfig.side_window, "With side_source 'stability': a hand's side is the mean of "
                          "its track's last this-many side estimates (0 = all of them, over the track's life); "
                          "with 'verifier' the mean is always over the track's life.")
    min_handedness_confidence: float = _p(TrackerConfig.min_handedness_confidence, "A hand's side (LEFT/RIGHT) "
                                          "is published only when its handedness_confidence (0.5..1: the "
                                          "track's smoothed probability of the likelier side) is at least this; "
                                          "below it handedness is UNKNOWN (how its crop is cut: crop_side).")
    crop_side: str = _p(TrackerConfig.crop_side, "Which hands are mirrored before the network (it knows right "
                        "hands only) and their joints mirrored back: 'decided' = those published LEFT (an UNKNOWN "
                        "hand is cropped as a right hand); 'likelier' = every hand whose track's side mean leans "
                        "left, published or UNKNOWN.", choices=CROP_SIDES)
    merge_keeps: str = _p(TrackerConfig.merge_keeps, f"Of two tracks closer than {TrackerConfig.merge_mm:g} mm "
                          "(duplicates), which is kept (a confirmed one always beats a tentative one): 'matched' = the one matched to a "
                          "detection this frame, then the older; 'older' = the older; 'stayed' = the one that "
                          "moved less this frame (when one hand passes behind the other, the track pulled onto "
                          "the front hand gives way: better on the demo recording and on crossings 501-506, worse on "
                          "crossings 507-512 and on rendered sequences without crossings; "
                          "docs/results/merge_stayed_2026-12-03/, "
                          "docs/results/crossing_2026-12-03/); 'matched_unless_jumped' = as 'matched', unless one "
                          "moved at least the merge distance more than the other this frame: then the other.",
                          choices=MERGE_KEEPS)
    # --- outputs -------------------------------------------------------------------------------
    publish_tf: bool = _p(True, "Broadcast one TF frame per joint: <tf_prefix>hand_<id>/<joint>.")
    tf_prefix: str = _p("", "Prefix of the joint TF frames (no leading slash).")
    publish_markers: bool = _p(True, "Publish RViz markers on ~/markers.")
    marker_lifetime: float = _p(0.5, "Marker lifetime in seconds (0 = forever).")
    diagnostics_period: float = _p(1.0, "Seconds between diagnostics messages on /diagnostics.")

    @classmethod
    def field_specs(cls):
        """(name, default, type, description, read_only, choices) for every parameter."""
        out = []
        for f in fields(cls):
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            out.append((f.name, default, type(default), f.metadata["description"], f.metadata["read_only"],
                        f.metadata["choices"]))
        return out

    @classmethod
    def coerce(cls, name: str, value):
        """A parameter value as its field's type where that loses nothing: an integer given for a
        floating-point parameter (``max_range:=1`` arrives as INTEGER) becomes a float. Anything
        else is returned unchanged, for :meth:`validate` to name."""
        typ = {n: t for n, _, t, *_ in cls.field_specs()}.get(name)
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    def validate(self) -> list[str]:
        """Reasons this configuration is invalid (empty when valid)."""
        errs = []
        kinds = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}
        for name, _, typ, _, _, _ in self.field_specs():
            v = getattr(self, name)
            ok = isinstance(v, typ) and (typ is bool or not isinstance(v, bool))
            if not ok:
                errs.append(f"{name} must be {kinds.get(typ, typ.__name__)}, not {v!r} ({type(v).__name__})")
        if errs:  # the range checks below assume the types
            return errs
        for name, _, _, _, _, choices in self.field_specs():
            if choices and getattr(self, name) not in choices:
                errs.append(f"{name} must be one of {list(choices)}, not {getattr(self, name)!r}")
        if self.queue_size < 1:
            errs.append("queue_size must be >= 1")
        if not self.slop > 0:
            errs.append("slop must be > 0 seconds")
        if not 1 <= self.max_hands <= 8:
            errs.append("max_hands must be in [1, 8]")
        if not 0 < self.min_range < self.max_range:
            errs.append("need 0 < min_range < max_range (metres)")
        if self.max_range > 10:
            errs.append("max_range above 10 m: the value looks like millimetres; use metres")
        if not 0 <= self.max_hand_speed <= 10:
            errs.append("max_hand_speed must be in [0, 10] m/s")
        if not 0 <= self.min_hand_score <= 1:
            errs.append("min_hand_score must be in [0, 1]")
        if not 0 <= self.torch_threads <= 256:
            errs.append("torch_threads must be in [0, 256] (0 = torch's default)")
        if not 0 <= self.refine_iterations <= 5:
            errs.append("refine_iterations must be in [0, 5]")
        if not 0.05 <= self.cube_size <= 1.0:
            errs.append("cube_size must be in [0.05, 1.0] metres")
        for name in ("min_refine_confidence", "min_pose_confidence", "min_coast_confidence", "min_hand_confidence",
                     "min_handedness_confidence", "centre_score_weight"):
            if not 0 <= getattr(self, name) <= 1:
                errs.append(f"{name} must be in [0, 1]")
        if not 1 <= self.min_side_estimates <= SideTestConfig.max_tests:
            errs.append(f"min_side_estimates must be in [1, {SideTestConfig.max_tests}]")
        if not 0 <= self.side_retest_every <= 1000 or not 0 <= self.side_window <= 1000:
            errs.append("side_retest_every and side_window must be in [0, 1000] (0 = off)")
        if self.crop_side not in CROP_SIDES:
            errs.append(f"crop_side must be one of {', '.join(CROP_SIDES)}, not {self.crop_side!r}")
        if self.merge_keeps not in MERGE_KEEPS:
            errs.append(f"merge_keeps must be one of {', '.join(MERGE_KEEPS)}, not {self.merge_keeps!r}")
        if self.side_source not in SIDE_SOURCES:
            errs.append(f"side_source must be one of {', '.join(SIDE_SOURCES)}, not {self.side_source!r}")
        if self.marker_lifetime < 0 or self.topic_timeout <= 0 or self.diagnostics_period <= 0:
            errs.append("marker_lifetime must be >= 0, topic_timeout and diagnostics_period > 0")
        if self.tf_prefix.startswith("/"):
            errs.append("tf_prefix must not start with '/' (tf2 frame ids cannot)")
        dev = self.device.strip().lower()
        if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
            errs.append(f"device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        return errs


def pipeline_config(cfg: NodeConfig) -> PipelineConfig:
    """The :class:`~kpfusion_ros.pipeline.PipelineConfig` of these parameters (node and kpfusion-bag):
    the only conversion of the parameters' metres to the core's millimetres."""
    localizer = replace(LocalizerConfig(), max_hands=cfg.max_hands, min_range_mm=cfg.min_range * 1000.0,
                        max_range_mm=cfg.max_range * 1000.0, min_score=cfg.min_hand_score,
                        verifier_path=cfg.hand_verifier_path)
    tracker = replace(TrackerConfig(), gate_speed_mm_s=cfg.max_hand_speed * 1000.0,
                      min_refine_confidence=cfg.min_refine_confidence, min_pose_confidence=cfg.min_pose_confidence,
                      min_coast_confidence=cfg.min_coast_confidence, min_hand_confidence=cfg.min_hand_confidence,
                      min_handedness_confidence=cfg.min_handedness_confidence,
                      centre_score_weight=cfg.centre_score_weight, side_source=cfg.side_source,
                      min_side_estimates=cfg.min_side_estimates, side_window=cfg.side_window,
                      crop_side=cfg.crop_side, merge_keeps=cfg.merge_keeps)
    side_test = replace(SideTestConfig(), retest_every=cfg.side_retest_every)
    return PipelineConfig(model_path=cfg.model_path, device=cfg.device, fp16=cfg.fp16,
                          refine_iterations=cfg.refine_iterations, cube_mm=cfg.cube_size * 1000.0,
                          torch_threads=cfg.torch_threads, localizer=localizer, tracker=tracker,
                          side_test=side_test)


def yaml_text() -> str:
    """The parameter file with every parameter, its default and its description."""
    lines = [
        "# Parameters of the kpfusion node (kpfusion_ros). Every parameter with its default.",
        "# Generated from kpfusion_ros/node_config.py (`python -m kpfusion_ros.node_config`);",
        "# a test checks that this file and the code agree. (ro) = read-only after start.",
        "/**:",
        "  ros__parameters:",
    ]
    for name, default, typ, desc, ro, choices in NodeConfig.field_specs():
        note = f"{desc}{' (ro)' if ro else ''}"
        if choices:
            note += f" One of: {', '.join(choices)}."
        lines.append(f"    # {note}")
        if typ is bool:
            val = "true" if default else "false"
        elif typ is str:
            val = f'"{default}"'
        elif typ is float:
            val = repr(float(default))
        else:
            val = str(default)
        lines.append(f"    {name}: {val}")
    lines += [
        "    # Input topics are not parameters: remap " + ", ".join(n for n in REALSENSE_TOPICS) + " (the launch",
        "    # files do, from camera_ns). Their QoS (default " + ", ".join(f"{k} {v}" for k, v in INPUT_QOS.items())
        + ") is set per",
        "    # resolved topic by the standard QoS overrides (read-only), e.g. for the realsense-ros topics:",
        "    # qos_overrides:",
    ]
    for name in REALSENSE_TOPICS:
        lines += [f"    #   {realsense_topic(name)}:", "    #     subscription:"]
        lines += [f"    #       {k}: {v}" for k, v in INPUT_QOS.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(yaml_text(), end="")
