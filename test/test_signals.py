"""Every node and fer-run ends on SIGTERM (what `ros2 launch` escalates to, and what systemd and
docker send) within a few seconds with exit code 0, whenever it comes: 20 start/SIGTERM cycles
each, half at a random moment of the start (imports, model loading), half at a random moment
after the node said it is ready (waiting in rcl for work). Ctrl-C is covered by the launch tests."""

import random
import time

import pytest

from fer_ros.sample_clip import SAMPLE_CLIP
from fer_training.node_process import NodeProcess, start_node

CYCLES = 20
ENDS_WITHIN_S = 5.0
VIDEO = f"video:={SAMPLE_CLIP}"
# (how to start it, a line it prints once ready)
PROGRAMS = {
    "camera_node": (lambda: start_node("camera_node", "-r", "__ns:=/sigterm_camera", "-p", VIDEO), "publishing video"),
    "emotion_node": (lambda: start_node("emotion_node", "-r", "__ns:=/sigterm_fer", "-p",
                                        "image_topic:=/sigterm_camera/image_raw"), "listening on"),
    "emotion_reactions": (lambda: start_node("emotion_reactions", "-r", "__ns:=/sigterm_fer"), "reacting to"),
    "fer-run": (lambda: NodeProcess(["fer-run", "--video", str(SAMPLE_CLIP)]), "[fer-run] source"),
}


@pytest.mark.parametrize("program", PROGRAMS)
def test_sigterm_ends_it_cleanly_at_any_moment(program):
    start, ready_line = PROGRAMS[program]
    rng = random.Random(program)
    failures = []
    for cycle in range(CYCLES):
        process = start()
        if cycle % 2:
            assert process.wait_for(ready_line, 120), process.output[-3000:]
            time.sleep(rng.uniform(0.0, 1.0))
        else:
            time.sleep(rng.uniform(0.05, 1.5))
        stopped = time.monotonic()
        code = process.stop(timeout=ENDS_WITHIN_S)  # one SIGTERM, then the wait
        if code != 0:
            failures.append(f"cycle {cycle}: exit {code} ({'killed' if code is None else 'code'}) "
                            f"{time.monotonic() - stopped:.1f} s after SIGTERM\n{process.output[-1500:]}")
    assert not failures, "\n".join(failures)
