"""The kpfusion node: synchronized RGB-D in; hand poses, RViz markers and TF out.

A lifecycle node (``rclpy.lifecycle``): *configure* reads and validates the
parameters, loads the model (a missing, corrupt or incompatible model file
fails the transition with a clear message) and creates the publishers,
lifecycle publishers that publish nothing while the node is inactive;
*activate* enables them and subscribes, *deactivate* unsubscribes, clears the
markers and disables them. ``main()`` configures and activates by itself unless
``--no-autostart`` is given, so ``ros2 run`` and launch files work without a
lifecycle manager.

Inputs. The node subscribes to the relative topics ``color/image_raw``,
``depth/image_raw`` and ``color/camera_info`` (:data:`INPUTS`), to be remapped
onto the camera's topics; their QoS (best effort, keep last 5 by default) can be
overridden per topic with the standard ``qos_overrides.<topic>.subscription.
{reliability,history,depth}`` parameters.

Threading. The synchronizer callback converts nothing: it stores the newest
synchronized (color, depth, camera_info) set in a one-slot mailbox; a worker
thread runs the network on it. A set that is replaced before the worker took it
is dropped and counted, so when the network is slower than the camera the node
works on the newest frame and latency stays bounded; the executor is never
blocked by inference.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import threading
import time
from dataclasses import replace
from typing import Optional

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

import message_filters
from cv_bridge import CvBridge
from tf2_ros import TransformBroadcaster

from kpfusion_ros.draw import draw_hands
from kpfusion_ros.msg import HandPoseArray
from kpfusion_ros.node_config import (CAMERA_INFO_TOPIC, COLOR_TOPIC, DEPTH_TOPIC, INPUT_QOS, NodeConfig,
                                      pipeline_config)
from kpfusion_ros.pipeline import HandPosePipeline, ModelLoadError
from kpfusion_ros.runtime import keep_freed_buffers
from kpfusion_ros.ros.conversions import FrameError, StampError
from kpfusion_ros.ros.diagnostics import NodeDiagnostics
from kpfusion_ros.ros.processing import FrameProcessor, ProcessingOptions, processing_options, stamp_ns

THROTTLE_S = 5.0
_PARAM_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
                float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
_NUMBERS = re.compile(r"[-+]?\d[\d.e+-]*")
#: (role, relative topic, type) of the three inputs, in the synchronizer's order.
INPUTS = (("color", COLOR_TOPIC, Image), ("depth", DEPTH_TOPIC, Image), ("camera_info", CAMERA_INFO_TOPIC, CameraInfo))


def input_qos() -> QoSProfile:
    """A fresh input QoS profile with the defaults (the overrides are applied to it when subscribing)."""
    return QoSProfile(depth=INPUT_QOS["depth"], history=HistoryPolicy[INPUT_QOS["history"].upper()],
                      reliability=ReliabilityPolicy[INPUT_QOS["reliability"].upper()])


def _problem_key(text: str) -> str:
    """The kind of a frame problem: its message with the numbers masked (throttling key)."""
    return _NUMBERS.sub("#", text)[:120]


class _Mailbox:
    """One slot holding the newest frame set; replacing an untaken set counts a drop."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._item = None
        self.dropped = 0
        self._closed = False

    def put(self, item) -> None:
        with self._cv:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cv.notify()

    def take(self, timeout: float = 0.1):
        with self._cv:
            if self._item is None and not self._closed:
                self._cv.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._item = None
            self._cv.notify_all()

    def pending(self) -> int:
        with self._cv:
            return 0 if self._item is None else 1


class KPFusionNode(LifecycleNode):
    def __init__(self, node_name: str = "kpfusion", **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        for name, default, typ, desc, ro, choices in NodeConfig.field_specs():
            text = desc + (f" One of: {', '.join(choices)}." if choices else "")
            # dynamic typing: rclpy would raise on `max_range:=1` (an INTEGER for a DOUBLE) and kill the
            # node at start-up; we coerce what loses nothing and reject the rest with a reason
            # (NodeConfig.coerce / validate). The declared type still documents the parameter.
            self.declare_parameter(name, default, ParameterDescriptor(
                description=text, read_only=ro, dynamic_typing=True, type=_PARAM_TYPES[typ]))
        self._param_names = {name for name, *_ in NodeConfig.field_specs()}
        self.cfg = self._read_config()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.bridge = CvBridge()
        self.pipeline: Optional[HandPosePipeline] = None
        self._pipeline_lock = threading.Lock()
        self._subs: list = []
        self._topics: dict[str, str] = {}  # role -> resolved (remapped) input topic, while subscribed
        self._sync = None
        self._worker: Optional[threading.Thread] = None
        self._running = False
        self._mailbox = _Mailbox()
        self._timers: list = []
        self.processor: Optional[FrameProcessor] = None
        self.diagnostics = NodeDiagnostics(role for role, *_ in INPUTS)
        self._throttled: dict[str, float] = {}
        self._throttle_lock = threading.Lock()

    # -- parameters -----------------------------------------------------------------------------
    def _read_config(self) -> NodeConfig:
        values = {name: NodeConfig.coerce(name, self.get_parameter(name).value)
                  for name, *_ in NodeConfig.field_specs()}
        return NodeConfig(**values)

    def _on_set_parameters(self, params) -> SetParametersResult:
        # parameters that are not ours (use_sim_time, the qos_overrides.* declared when subscribing) are
        # rclpy's to check
        changes = {p.name: NodeConfig.coerce(p.name, p.value) for p in params if p.name in self._param_names}
        if not changes:
            return SetParametersResult(successful=True)
        candidate = replace(self.cfg, **changes)
        errs = candidate.validate()
        if errs:
            return SetParametersResult(successful=False, reason="; ".join(errs))
        self.cfg = candidate
        self._apply_live_parameters()
        return SetParametersResult(successful=True)

    def _processing_options(self) -> ProcessingOptions:
        return processing_options(self.cfg)

    def _apply_live_parameters(self) -> None:
        if self.processor is not None:
            self.processor.options = self._processing_options()
        if self.pipeline is not None:
            with self._pipeline_lock:
                self.pipeline.apply_config(pipeline_config(self.cfg))

    # -- lifecycle ------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.cfg = self._read_config()
        errs = self.cfg.validate()
        if errs:
            self.get_logger().error("invalid parameters: " + "; ".join(errs))
            return TransitionCallbackReturn.FAILURE
        try:
            self.pipeline = HandPosePipeline(pipeline_config(self.cfg))
        except (ModelLoadError, ValueError) as exc:
            self.get_logger().error(f"cannot configure: {exc}")
            return TransitionCallbackReturn.FAILURE
        # the ~190k objects that exist now (torch, the model, rclpy) live as long as the process: keep them
        # out of the cyclic collector, whose full pass over them was a latency spike on the frame that
        # triggers it (per-frame garbage is still collected)
        gc.collect()
        gc.freeze()
        self.processor = FrameProcessor(self.pipeline, self.bridge, self._processing_options(), self._warn_frame)
        if self.pipeline.device_warning:
            self.get_logger().warning(self.pipeline.device_warning)
        log = self.get_logger().warning if self.pipeline.untrained else self.get_logger().info
        log(f"model: {self.pipeline.model_description} on {self.pipeline.device}"
            f"{' (fp16)' if self.pipeline.half else ''}")
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        # lifecycle publishers: enabled by on_activate, disabled by on_deactivate (nothing is sent while inactive)
        self.pub_poses = self.create_lifecycle_publisher(HandPoseArray, "~/hand_poses", reliable)
        self.pub_markers = self.create_lifecycle_publisher(MarkerArray, "~/markers", reliable)
        self.pub_debug = self.create_lifecycle_publisher(Image, "~/debug_image", reliable)
        self.pub_diag = self.create_lifecycle_publisher(DiagnosticArray, "/diagnostics", reliable)
        self.tf_broadcaster = TransformBroadcaster(self)
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        ret = super().on_activate(state)  # enables the lifecycle publishers before the first input can arrive
        if ret != TransitionCallbackReturn.SUCCESS:
            return ret
        c = self.cfg
        self._subs, self._topics = [], {}
        for role, topic, typ in INPUTS:
            events = SubscriptionEventCallbacks(incompatible_qos=self._qos_warning(role))
            sub = message_filters.Subscriber(self, typ, topic, qos_profile=input_qos(), event_callbacks=events,
                                             qos_overriding_options=QoSOverridingOptions.with_default_policies())
            sub.registerCallback(self._count_arrival, role)
            self._subs.append(sub)
            self._topics[role] = sub.sub.topic_name
        if c.exact_sync:
            self._sync = message_filters.TimeSynchronizer(self._subs, c.queue_size)
        else:
            self._sync = message_filters.ApproximateTimeSynchronizer(self._subs, c.queue_size, c.slop)
        self._sync.registerCallback(self._on_frame_set)
        self._mailbox = _Mailbox()
        # Watchdog and diagnostics measure wall time: on the steady clock they are unaffected by
        # use_sim_time (a /clock that starts at a recording's epoch made ROS-time timers fire back to back).
        self._steady_clock = Clock(clock_type=ClockType.STEADY_TIME)
        self._running = True
        self._worker = threading.Thread(target=self._work, name="kpfusion-inference", daemon=True)
        self._worker.start()
        self._timers = [self.create_timer(c.topic_timeout, self._watchdog, clock=self._steady_clock),
                        self.create_timer(c.diagnostics_period, self._publish_diagnostics, clock=self._steady_clock)]
        self.diagnostics.activated()
        qos = ", ".join(f"{sub.sub.topic_name} ({sub.sub.qos_profile.reliability.name.lower()}, "
                        f"depth {sub.sub.qos_profile.depth})" for sub in self._subs)
        self.get_logger().info(f"subscribed to {qos}; {'exact' if c.exact_sync else f'approximate slop {c.slop}s'}"
                               " synchronization")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        clear = self.processor.clear_markers()
        if self.cfg.publish_markers:
            self.pub_markers.publish(clear)  # before the publishers are disabled
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        for name in ("pub_poses", "pub_markers", "pub_debug", "pub_diag"):
            pub = getattr(self, name, None)
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
                setattr(self, name, None)
        self.pipeline = None
        self.processor = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        return TransitionCallbackReturn.SUCCESS

    def _stop_inputs(self) -> None:
        self._running = False
        self._mailbox.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        for t in self._timers:
            self.destroy_timer(t)
        self._timers = []
        for sub in self._subs:
            self.destroy_subscription(sub.sub)
        self._subs = []
        self._sync = None

    # -- inputs ---------------------------------------------------------------------------------
    def _qos_override_hint(self, role: str) -> str:
        return f"qos_overrides.{self._topics.get(role, '<topic>')}.subscription.reliability"

    def _qos_warning(self, role: str):
        def cb(event) -> None:
            self.get_logger().warning(
                f"incompatible QoS on '{self._topics.get(role, role)}' (policy {event.last_policy_kind}): no "
                f"messages will be received; set {self._qos_override_hint(role)} to match the publisher "
                "(best_effort, the default, accepts both)", throttle_duration_sec=THROTTLE_S)
        return cb

    def _count_arrival(self, msg, role: str) -> None:
        self.diagnostics.arrived(role)

    def _watchdog(self) -> None:
        c = self.cfg
        for role, silent_s, never in self.diagnostics.silent_inputs(c.topic_timeout):
            topic = self._topics.get(role, role)
            self._warn_frame(
                f"topic:{topic}", f"no message on '{topic}' for {silent_s:.0f} s{' (never received)' if never else ''}: "
                f"check the topic remapping, that the camera runs, and QoS ({self._qos_override_hint(role)})")
        if self.diagnostics.unsynchronized(c.topic_timeout):
            self.get_logger().warning(
                f"all three inputs arrive but no set has been synchronized: stamps differ by more than slop "
                f"({c.slop} s){' or are not identical (exact_sync)' if c.exact_sync else ''}",
                throttle_duration_sec=THROTTLE_S)

    def _on_frame_set(self, color: Image, depth: Image, info: CameraInfo) -> None:
        self.diagnostics.count("sets_received")
        # arrival on the node's clock (stamp → here: DDS transport and synchronisation) and on a
        # monotonic clock (here → the worker: the hand-off)
        self._mailbox.put((color, depth, info, self.get_clock().now().nanoseconds, time.perf_counter()))

    # -- work -----------------------------------------------------------------------------------
    def _work(self) -> None:
        while self._running:
            item = self._mailbox.take(timeout=0.1)
            if item is None:
                continue
            try:
                self._process(*item)
            except FrameError as exc:
                self.diagnostics.count("bad_frames")
                if isinstance(exc, StampError):
                    self.diagnostics.count("skipped_stamps")
                # throttled per kind of problem (the message with its numbers masked): rclpy throttles per
                # call site, which would hide a second, different problem behind the first one
                self._warn_frame("bad:" + _problem_key(str(exc)), f"frame skipped: {exc}")
            except Exception as exc:  # never let one frame kill the worker
                self.diagnostics.count("bad_frames")
                self._warn_frame("error:" + type(exc).__name__,
                                 f"frame skipped after an unexpected error: {type(exc).__name__}: {exc}",
                                 error=True)

    def _warn_frame(self, key: str, text: str, error: bool = False) -> None:
        """Throttled warning per condition (rclpy throttles per call site, so we keep our own clock)."""
        throttle = {"frame_id": 10.0, "info_size": 30.0, "old_stamps": 60.0}.get(key, THROTTLE_S)
        now = time.monotonic()
        with self._throttle_lock:
            if now - self._throttled.get(key, -1e9) < throttle:
                return
            self._throttled[key] = now
        if error:
            self.get_logger().error(text)
        elif ":" in key:
            self.get_logger().warning(text)
        else:
            self.get_logger().warning(f"[{key}] {text}")

    def _process(self, color: Image, depth: Image, info: CameraInfo, arrival_ns: int, arrival_perf: float) -> None:
        t_start = time.perf_counter()
        with self._pipeline_lock:
            out = self.processor.process(color, depth, info, now_ns=self.get_clock().now().nanoseconds)
        self.diagnostics.count("frames_processed")
        if "no_depth" in out.issues:
            self.diagnostics.count("frames_no_depth")
        header = color.header
        t_pub = time.perf_counter()
        self.pub_poses.publish(out.poses)
        latency_ms = (self.get_clock().now().nanoseconds - stamp_ns(header.stamp)) / 1e6
        if self.cfg.publish_markers:
            self.pub_markers.publish(out.markers)
        if self.cfg.publish_tf and out.transforms:
            self.tf_broadcaster.sendTransform(out.transforms)
        timings = dict(out.result.timings_ms)
        timings["publish"] = (time.perf_counter() - t_pub) * 1e3
        # the issue's "node overhead" of this frame: stamp → HandPoseArray published, minus the model
        timings["overhead"] = latency_ms - timings.get("forward", 0.0)
        timings["receive"] = (arrival_ns - stamp_ns(header.stamp)) / 1e6  # stamp → synchronized set
        timings["handoff"] = (t_start - arrival_perf) * 1e3  # synchronized set → worker
        if self.pub_debug.get_subscription_count() > 0:
            t_dbg = time.perf_counter()
            img = draw_hands(out.rgb, out.result.hands)
            self.pub_debug.publish(self.bridge.cv2_to_imgmsg(img, encoding="rgb8", header=header))
            self.diagnostics.count("debug_images_published")
            timings["debug_image"] = (time.perf_counter() - t_dbg) * 1e3
        inference_ms = out.result.timings_ms.get("network", 0.0)
        self.diagnostics.published(latency_ms, inference_ms, timings)
        self.get_logger().debug(f"{len(out.result.hands)} hand(s); latency {latency_ms:.1f} ms, "
                                f"inference {inference_ms:.1f} ms, dropped {self._mailbox.dropped}")

    # -- diagnostics ----------------------------------------------------------------------------
    def diagnostics_values(self) -> dict:
        return self.diagnostics.values(sets_dropped_stale=self._mailbox.dropped,
                                       mailbox_pending=self._mailbox.pending(),
                                       sync_queue_max=self._sync_queue_max())

    def _sync_queue_max(self) -> int:
        """Largest message_filters synchronizer input queue (bounded by queue_size); -1 if not observable."""
        queues = getattr(self._sync, "queues", None)  # TimeSynchronizer's per-input dicts (all releases)
        return max(len(q) for q in queues) if queues else -1

    def _publish_diagnostics(self) -> None:
        vals = self.diagnostics_values()
        self.pub_diag.publish(self.diagnostics.message(
            vals, f"{self.get_fully_qualified_name()}: hand pose estimation",
            str(self.pipeline.device) if self.pipeline else "none", self.get_clock().now().to_msg()))
        self.get_logger().debug(", ".join(f"{k}={v}" for k, v in vals.items()))


def main(argv=None) -> int:
    argv = sys.argv if argv is None else argv
    args_ros = rclpy.utilities.remove_ros_args(argv)
    parser = argparse.ArgumentParser(prog="kpfusion_node", description="Keypoint-Fusion RGB-D hand pose node")
    parser.add_argument("--no-autostart", action="store_true",
                        help="stay unconfigured and wait for a lifecycle manager")
    args = parser.parse_args(args_ros[1:])
    memory_note = keep_freed_buffers()  # before the first frame: no page faults on every frame's buffers
    rclpy.init(args=argv)
    node = KPFusionNode()
    node.get_logger().info(memory_note)
    # Inference runs in its own worker thread; a single-threaded executor keeps the callbacks
    # cheap and sequential (rclpy's MultiThreadedExecutor was seen busy-looping at 100 % CPU here,
    # starving the worker of the GIL).
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if not args.no_autostart:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().fatal("configure failed; exiting")
                return 1
            node.trigger_activate()
        executor.spin()
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    except Exception:
        # SIGINT/SIGTERM make rclpy shut the context down from its signal handler; when that lands
        # between the executor's own check and its next wait, rclpy raises RCLError ("the given
        # context is not valid") instead of ExternalShutdownException. That is a normal shutdown.
        if rclpy.ok():
            raise
    finally:
        node._stop_inputs()
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0
