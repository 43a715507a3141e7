"""The package under the real ROS 2 tools, as a user of a ROS install runs it: built with colcon
into a workspace on top of the venv (which `../shared/ros2cli` makes act as /opt/ros/kilted),
then `ros2 launch`, `ros2 topic echo`, `ros2 param set`, `ros2 run`, `ros2 pkg xml`, and Ctrl-C
(SIGINT to the launch's process group)."""

import importlib.util
import subprocess

import needs
import yaml
from ros_helpers import ROOT, ctrl_c, echo_once, in_workspace, wait_for_line

from fer_ros.sample_clip import SAMPLE_CLIP, write_clip
from fer_ros.vision.labels import LABELS

pytestmark = needs.ros2_tools


def test_ros2_run_and_pkg_find_both_packages(workspace):
    run = in_workspace(workspace, "ros2 run fer_training extract_frames --help", timeout=120)
    assert run.returncode == 0 and "-n" in run.stdout and "frames" in run.stdout, run.stderr
    xml = in_workspace(workspace, "ros2 pkg xml fer_training", timeout=120)
    assert xml.returncode == 0 and "<name>fer_training</name>" in xml.stdout, xml.stderr
    listed = in_workspace(workspace, "ros2 pkg list", timeout=120)
    assert {"fer_msgs", "fer_ros", "fer_training"} <= set(listed.stdout.split())


def test_launch_answers_a_video_takes_parameters_and_ends_on_ctrl_c(workspace, tmp_path):
    params = yaml.safe_load((ROOT / "config" / "webcam.yaml").read_text())
    params["/camera/camera"]["ros__parameters"]["loop"] = True  # frames keep coming for the parameter change
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    log = open(tmp_path / "launch.log", "w")
    launch = in_workspace(workspace, f"ros2 launch fer_ros webcam.launch.py video:={SAMPLE_CLIP} "
                                     f"params_file:={params_file} hri:=true reactions:=true",
                          background=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        first = echo_once(workspace, "/fer/emotions", "fer_msgs/msg/FaceEmotionArray", "--filter 'len(m.faces) > 0'")
        assert first["labels"] == list(LABELS) and first["faces"][0]["label"] in LABELS
        ids = echo_once(workspace, "/humans/faces/tracked", "hri_msgs/msg/IdsList", "--filter 'len(m.ids) > 0'")["ids"]
        expression = echo_once(workspace, f"/humans/faces/{ids[0]}/expression", "hri_msgs/msg/Expression")
        assert expression["expression"] in {"neutral", "angry", "sad", "happy", "surprised", "disgusted", "scared"}
        nodes = in_workspace(workspace, "ros2 node list --no-daemon --spin-time 5", timeout=120).stdout.split()
        assert {"/camera/camera", "/fer/emotion", "/fer/reactions"} <= set(nodes)
        # A run-time change that shows in the results: faces smaller than 400 px are ignored (the
        # clip's face is about 70 px), so the results that follow have none.
        changed = in_workspace(workspace, "ros2 param set --no-daemon --spin-time 5 /fer/emotion "
                                          "min_face_size 400", timeout=120)
        assert changed.returncode == 0 and "successful" in changed.stdout, changed.stdout + changed.stderr
        empty = echo_once(workspace, "/fer/emotions", "fer_msgs/msg/FaceEmotionArray", "--filter 'len(m.faces) == 0'")
        assert empty["faces"] == [] and empty["labels"] == list(LABELS)
    finally:
        log.close()
        output = ctrl_c(launch, tmp_path / "launch.log")
    assert "deprecated" not in output and "[ WARN" not in output, output[-3000:]  # quiet start


def test_ctrl_c_while_the_nodes_are_starting_ends_everything(workspace, tmp_path):
    log_path = tmp_path / "launch.log"
    with open(log_path, "w") as log:
        launch = in_workspace(workspace, f"ros2 launch fer_ros webcam.launch.py video:={SAMPLE_CLIP}",
                              background=True, stdout=log, stderr=subprocess.STDOUT)
    # Until launch says it started both processes (they are importing now): launch's own log line.
    assert wait_for_line(log_path, "process started with pid", 2, 60), log_path.read_text()[-3000:]
    ctrl_c(launch, log_path)  # a node still importing prints Python's KeyboardInterrupt traceback: not ours to catch


def test_a_video_plays_at_its_own_rate_so_a_second_terminal_sees_faces(workspace, tmp_path):
    # The README's two terminals: launch a 100-frame clip (15 fps: 6.7 s), then `ros2 topic echo
    # --once` once the nodes are up. Played as fast as answers come back (about 2 s here), the
    # clip was often over before the echo had subscribed.
    clip = write_clip(tmp_path / "clip.mp4", frames=100, fps=15.0, period=100)
    log_path = tmp_path / "launch.log"
    with open(log_path, "w") as log:
        launch = in_workspace(workspace, f"ros2 launch fer_ros webcam.launch.py video:={clip}",
                              background=True, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for_line(log_path, "listening on /camera/image_raw", 1, 120), log_path.read_text()[-3000:]
        message = echo_once(workspace, "/fer/emotions", "fer_msgs/msg/FaceEmotionArray", timeout=60)
        assert len(message["faces"]) == 1 and message["faces"][0]["label"] in LABELS
        assert wait_for_line(log_path, f"end of {clip} after 100 frames", 1, 60), log_path.read_text()[-3000:]
        seconds = float(log_path.read_text().split(f"end of {clip} after 100 frames in ")[1].split(" s")[0])
        assert seconds >= 99 / 15 * 0.98, seconds  # no faster than the file's 15 fps
    finally:
        ctrl_c(launch, log_path)


def test_managed_launch_reaches_active_and_ros2_lifecycle_pauses_and_resumes_the_answers(workspace, tmp_path):
    params = yaml.safe_load((ROOT / "config" / "webcam.yaml").read_text())
    params["/camera/camera"]["ros__parameters"].update(loop=True, lockstep=False)  # frames keep coming
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    log_path = tmp_path / "launch.log"
    with open(log_path, "w") as log:
        launch = in_workspace(workspace, f"ros2 launch fer_ros webcam.launch.py video:={SAMPLE_CLIP} managed:=true "
                                         f"params_file:={params_file}",
                              background=True, stdout=log, stderr=subprocess.STDOUT)

    def lifecycle(*words: str) -> str:
        result = in_workspace(workspace, f"ros2 lifecycle {' '.join(words)} --no-daemon --spin-time 5",
                              timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    try:
        # The launch file configures, then activates: the node says it listens once active.
        assert wait_for_line(log_path, "listening on /camera/image_raw", 1, 120), log_path.read_text()[-3000:]
        assert lifecycle("get", "/fer/emotion").startswith("active [3]")
        assert echo_once(workspace, "/fer/emotions", "fer_msgs/msg/FaceEmotionArray", timeout=60)["faces"]
        assert "Transitioning successful" in lifecycle("set", "/fer/emotion", "deactivate")
        assert lifecycle("get", "/fer/emotion").startswith("inactive [2]")
        # Inactive: no answers for 5 s while the camera keeps publishing (`timeout` ends the echo
        # with Ctrl-C's signal: exit 124 and nothing printed means none came).
        silent = in_workspace(workspace, "timeout -s INT -k 10 5 ros2 topic echo --no-daemon /fer/emotions "
                                         "fer_msgs/msg/FaceEmotionArray", timeout=120)
        assert silent.returncode == 124 and "faces" not in silent.stdout, silent.stdout[-500:]
        assert "Transitioning successful" in lifecycle("set", "/fer/emotion", "activate")
        assert echo_once(workspace, "/fer/emotions", "fer_msgs/msg/FaceEmotionArray", timeout=60)["faces"]
    finally:
        ctrl_c(launch, log_path)


def test_the_launch_file_keeps_a_fast_dds_profile_the_user_set(monkeypatch):
    # The shipped profile is the default, not an override of the user's own.
    from launch import LaunchContext
    from launch.actions import SetEnvironmentVariable

    from fer_ros.ros.graph import dds_environment

    spec = importlib.util.spec_from_file_location("webcam_launch", ROOT / "launch" / "webcam.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (name, shipped), = dds_environment().items()
    for user_value, expected in (("/home/me/my_profile.xml", "/home/me/my_profile.xml"), (None, shipped)):
        if user_value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, user_value)
        context = LaunchContext()
        for action in module.generate_launch_description().entities:
            if isinstance(action, SetEnvironmentVariable):
                action.visit(context)
        assert context.environment[name] == expected
