"""Two computers on one machine: Linux network namespaces joined by a veth pair, the link shaped
to a robot Wi-Fi's bandwidth with `tc tbf` (root only). What runs in one namespace reaches the
other only through the veth pair, over UDP: shared memory needs both ends to be one host, which
Fast DDS decides from the hosts' addresses, different here.

`fer-bench --link` measures the split graph over it (camera and result listener on the robot,
the emotion node on the other side); `test/test_network.py` checks that it works.
"""

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer_training.harness.node_process import EMOTION_READY_LINE, bin_path, start_emotion_node

WIFI_RATE = "20mbit"  # with burst 32kbit, latency 400ms: what the test and benchmark use


def can_make_namespaces() -> str:
    """'' where this process can create network namespaces, else the reason it cannot."""
    if os.geteuid() != 0:
        return "network namespaces and veth pairs need root"
    for tool in ("ip", "tc"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            return f"the {tool} command (iproute2) is not installed"
    return ""


@dataclass(frozen=True)
class Host:
    """One side of the link: a namespace, its veth end and its address."""

    namespace: str
    device: str
    address: str

    def command(self, argv: list[str]) -> list[str]:
        """`argv` run inside this host's namespace (with the caller's environment)."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def sent_bytes(self) -> int:
        """Bytes sent out of this host's veth end so far."""
        out = subprocess.run(["ip", "-n", self.namespace, "-s", "-j", "link", "show", self.device],
                             capture_output=True, text=True, check=True).stdout
        return int(json.loads(out)[0]["stats64"]["tx"]["bytes"])


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@contextmanager
def two_hosts(rate: str | None = WIFI_RATE) -> Iterator[tuple[Host, Host]]:
    """(robot, base): two namespaces joined by a veth pair, each direction limited to `rate`
    (None: unlimited), removed again on leaving."""
    tag = f"{os.getpid() % 100000}"
    robot = Host(f"fer_robot_{tag}", f"ferr{tag}", "10.77.0.1")
    base = Host(f"fer_base_{tag}", f"ferb{tag}", "10.77.0.2")
    made = []
    try:
        for host in (robot, base):
            _ip("netns", "add", host.namespace)
            made.append(host.namespace)
        _ip("link", "add", robot.device, "type", "veth", "peer", "name", base.device)
        for host in (robot, base):
            _ip("link", "set", host.device, "netns", host.namespace)
            _ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", host.device)
            _ip("-n", host.namespace, "link", "set", host.device, "up")
            _ip("-n", host.namespace, "link", "set", "lo", "up")
            if rate:
                subprocess.run(host.command(["tc", "qdisc", "add", "dev", host.device, "root", "tbf", "rate", rate,
                                             "burst", "32kbit", "latency", "400ms"]), check=True)
        yield robot, base
    finally:
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def link_environment(domain_id: int) -> dict[str, str]:
    """The environment of a node on either side: same domain, discovery beyond localhost."""
    return dict(os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET",
                ROS_LOG_DIR=os.environ.get("ROS_LOG_DIR", tempfile.gettempdir()))


def answered_rate_and_latency(json_path: Path) -> dict:
    """From fer-run's --json lines: frames answered per second (over the span of their stamps)
    and latency (camera stamp to result on the camera's side) p50/p95 in ms."""
    lines = [json.loads(line) for line in json_path.read_text().splitlines()]
    stamps = np.array([line["stamp"] for line in lines])
    latencies = np.array([line["latency_ms"] for line in lines])
    span = stamps.max() - stamps.min() if len(stamps) > 1 else 0.0
    return {"answered": len(lines), "answered_fps": (len(lines) - 1) / span if span > 0 else 0.0,
            "latency_p50_ms": float(np.percentile(latencies, 50)) if len(lines) else float("nan"),
            "latency_p95_ms": float(np.percentile(latencies, 95)) if len(lines) else float("nan")}


def run_split(robot: Host, base: Host, clip: Path, transport: str, lockstep: bool, domain_id: int,
              out: Path, timeout: float = 300) -> dict:
    """The emotion node on `base`, `fer-run --nodes camera` (camera and result listener) on
    `robot`, playing `clip`; returns fer-run's figures and the bytes each side sent."""
    env = link_environment(domain_id)
    topic = "/camera/image_raw" + ("/compressed" if transport == "compressed" else "")
    emotion = start_emotion_node("-p", f"image_topic:={topic}", prefix=tuple(base.command([])), env=env)
    try:
        if not emotion.wait_for(EMOTION_READY_LINE, 120):
            raise RuntimeError(f"the emotion node did not start:\n{emotion.output[-3000:]}")
        sent_before = robot.sent_bytes(), base.sent_bytes()
        started = time.monotonic()
        json_path = out / f"{transport}_{'lockstep' if lockstep else 'live'}.json"
        argv = [bin_path("fer-run"), "--nodes", "camera", "--video", str(clip), "--transport", transport,
                "--json", str(json_path)] + ([] if lockstep else ["--realtime"])
        robot_side = subprocess.run(robot.command(argv), env=env, capture_output=True, text=True, timeout=timeout)
        seconds = time.monotonic() - started
        sent = robot.sent_bytes() - sent_before[0], base.sent_bytes() - sent_before[1]
        alive = emotion.alive()
    finally:
        emotion_exit_code = emotion.stop()
    return {"transport": transport, "lockstep": lockstep, "exit_code": robot_side.returncode,
            "emotion_node_alive": alive, "emotion_node_exit_code": emotion_exit_code, "seconds": seconds,
            "robot_sent_mb": sent[0] / 1e6, "base_sent_mb": sent[1] / 1e6,
            "robot_output": robot_side.stdout + robot_side.stderr,
            "emotion_log": emotion.output, **answered_rate_and_latency(json_path)}
