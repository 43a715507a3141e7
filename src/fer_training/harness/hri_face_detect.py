"""ROS4HRI's real `hri_face_detect` (built by tools/hri_face_detect_venv.sh into a venv of its
own) in a process of its own, driven to active through its lifecycle services, for the test and
the benchmark of our hri_expression node against it.

Its venv has numpy 1.26 and MediaPipe; ours numpy 2: the process gets an environment without
our venv's library path and bootstrap flag, so its own ROS wheels set theirs. `cv_bridge`,
`tf2_ros`, `tf2_geometry_msgs` and `tf_transformations` have no PyPI wheels: the stand-ins in
test/hri_stand_ins (test doubles for just the names it uses) go on its PYTHONPATH.
"""

import os
import time
from pathlib import Path

from rclpy.node import Node

from fer_ros.ros.lifecycle_steps import ACTIVE, REPLY_S, drive_to_active
from fer_training.harness.node_process import NodeProcess

ROOT = Path(__file__).resolve().parents[3]
HRI_VENV = ROOT / ".venv-hri"
STAND_INS = ROOT / "test" / "hri_stand_ins"
STAMP, UNAVAILABLE = ".stamp-hri_face_detect", "UNAVAILABLE"
NODE = "/hri_face_detect"


def unavailable_reason(venv: Path = HRI_VENV) -> str | None:
    """Why hri_face_detect cannot run here (None: it can)."""
    if (venv / STAMP).is_file():
        return None
    if (venv / UNAVAILABLE).is_file():
        return f"hri_face_detect could not be built here: {(venv / UNAVAILABLE).read_text().strip()}"
    return f"hri_face_detect is not built in {venv} (make hri-face-detect; make test tries it)"


def hri_environment(venv: Path = HRI_VENV) -> dict[str, str]:
    """This process's environment (domain, DDS profile, log folder) less what ties it to our venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_LIBRARY_PATH", "_ROS_WHEELS_BOOTSTRAP_COMPLETE", "PYTHONPATH", "VIRTUAL_ENV",
                        "AMENT_PREFIX_PATH", "CMAKE_PREFIX_PATH", "PYTHONHOME")}
    env["PYTHONPATH"] = str(STAND_INS)
    env["AMENT_PREFIX_PATH"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return env


def start_hri_face_detect(image_topic: str, *parameters: str, venv: Path = HRI_VENV) -> NodeProcess:
    """hri_face_detect (unconfigured, as it starts) reading `image_topic`; `parameters` as
    name:=value (e.g. deterministic_ids:=true)."""
    args = [arg for p in parameters for arg in ("-p", p)]
    return NodeProcess([str(venv / "bin" / "python"), "-m", "hri_face_detect.node_face_detect", "--ros-args",
                        "-r", f"image:={image_topic}", *args], env=hri_environment(venv))


def _reply(spin_once, client, request, deadline: float):
    """The service's reply, or None when none came within REPLY_S (or by `deadline`), spinning
    the caller's executor meanwhile."""
    while not client.service_is_ready():
        if time.monotonic() > deadline:
            return None
        spin_once()
    future = client.call_async(request)
    until = min(deadline, time.monotonic() + REPLY_S)
    while not future.done():
        if time.monotonic() > until:
            future.cancel()
            return None
        spin_once()
    return future.result()


def activate(node: Node, spin_once, target: str = NODE, timeout: float = 120.0) -> bool:
    """Configure, then activate `target` (as `ros2 lifecycle set` does), the way our launch files
    drive our own nodes, safe against a lost reply (`fer_ros.ros.lifecycle_steps`; seen in CI
    beside two busy loops). `spin_once` spins the caller's executor. True once it is active."""
    deadline = time.monotonic() + timeout
    return drive_to_active(node, target, lambda client, request: _reply(spin_once, client, request, deadline),
                           lambda: time.monotonic() < deadline) == ACTIVE
