"""The pip-path runner and the command-line tools, run as a user would."""

import json
import os
import subprocess

import needs
import pytest
from ros_helpers import PARAMS, ROOT

from fer_ros.sample_clip import SAMPLE_CLIP, write_clip
from fer_ros.vision.model_files import METADATA_FILE, SHIPPED_IMAGE_MODEL
from fer_training.harness.node_process import bin_path


def run(*cmd: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([bin_path(cmd[0]), *cmd[1:]], env=dict(os.environ), cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_fer_run_writes_one_json_line_per_frame(tmp_path):
    clip = write_clip(tmp_path / "face.mp4", frames=12, period=60)
    out = tmp_path / "out.json"
    record = tmp_path / "annotated.mp4"
    result = run("fer-run", "--video", str(clip), "--frames", "10", "--json", str(out),
                 "--record", str(record))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 10
    for line in lines:
        assert isinstance(line["stamp"], float)
        (face,) = line["faces"]
        assert set(face) == {"track_id", "box", "label", "confidence", "scores"}
        assert len(face["box"]) == 4 and len(face["scores"]) == 7
    assert "frames processed" in result.stdout
    assert record.stat().st_size > 1000


def test_without_a_camera_the_runner_falls_back_to_the_sample_clip_and_with_one_uses_it(monkeypatch):
    # A test double for the camera: a device cannot be plugged in or out from a test, and the
    # machine running it may or may not have one.
    import fer_ros.run as run_module

    args = run_module.parse_args([])
    monkeypatch.setattr(run_module, "open_capture", lambda index: None)
    params, description = run_module.choose_source(args)
    assert params["video"] == str(SAMPLE_CLIP) and "bundled sample clip" in description
    with pytest.raises(OSError, match="cannot open camera 3"):
        run_module.choose_source(run_module.parse_args(["--camera", "3"]))
    opened = []
    monkeypatch.setattr(run_module, "open_capture", lambda index: opened.append(index) or FakeCapture())
    assert run_module.choose_source(args) == ({"device": 0, "video": "", "rate": "source"}, "camera 0")
    assert opened == [0]


class FakeCapture:
    def release(self) -> None:
        pass


def test_fer_run_plays_the_sample_clip_with_clip_emotions():
    result = run("fer-run", "--video", str(SAMPLE_CLIP))
    assert result.returncode == 0, result.stdout + result.stderr
    status = [line for line in result.stdout.splitlines() if " fps | latency" in line]
    assert status and any("face(s) #" in line for line in status)
    assert any(" | clip #1 lstm " in line for line in status)  # /fer/clip_emotions, after 12 frames


def test_fer_run_refuses_a_missing_video():
    result = run("fer-run", "--video", "/nonexistent/clip.mp4")
    assert result.returncode == 2 and "video file not found" in result.stderr


def test_emotion_node_refuses_a_bad_parameter_and_a_missing_model(tmp_path):
    bad = run("emotion_node", "--ros-args", "--params-file", str(PARAMS), "-r", "__ns:=/fer",
              "-p", "detector:=mtcnn")
    assert bad.returncode == 2 and "parameter 'detector' must be one of" in bad.stderr
    missing = run("emotion_node", "--ros-args", "-p", f"model_dir:={tmp_path}")
    assert missing.returncode == 2 and str(tmp_path / METADATA_FILE) in missing.stderr


@pytest.mark.parametrize("executable", ["camera_node", "emotion_node"])
def test_a_bad_parameters_file_or_argument_stops_the_node_with_one_line_and_exit_code_2(executable, tmp_path):
    malformed = tmp_path / "typo.yaml"
    malformed.write_text("/fer/emotion:\n  ros__parameters:\n    detector: [yunet\n")
    misnamed = tmp_path / "misnamed.yaml"
    misnamed.write_text("/**:\n  ros__parameters:\n    detect_evry: 2\n")
    cases = {  # arguments -> what the line names
        ("--params-file", str(malformed)): "Couldn't parse params file",
        ("--params-file", str(tmp_path / "missing.yaml")): "Couldn't parse params file",
        ("-p",): "trailing -p",
        ("--params-file", str(misnamed)): "has no parameter(s) detect_evry",
        ("-p", "diagnostics_period:=0.0"): "parameter 'diagnostics_period' must be >= 0.1",
    }
    for arguments, message in cases.items():
        result = run(executable, "--ros-args", *arguments)
        errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
        assert result.returncode == 2 and len(errors) == 1 and message in errors[0], (arguments, result.stderr)
        assert "Traceback" not in result.stderr


@needs.data_sets("fer2013", "ferplus")
def test_fer_evaluate_reproduces_the_model_card(tmp_path):
    # The shipped model learnt the FER+ crowd's labels: its card's PrivateTest figure against the
    # FER+ majority, by the float file (the Keras model's scores to 1e-5).
    out = tmp_path / "eval.json"
    plot = tmp_path / "confusion.png"
    result = run("fer-evaluate", "--dataset", "ferplus:PrivateTest", "--precision", "float", "--class-balance", "0",
                 "--json", str(out), "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    card = json.loads((SHIPPED_IMAGE_MODEL / METADATA_FILE).read_text())
    assert report["dataset"] == "ferplus:PrivateTest" and report["n"] == report["detected"] == 3137
    assert sum(map(sum, report["confusion"])) == 3137
    assert [c["support"] for c in report["per_class"].values()] == [273, 18, 83, 893, 384, 396, 1090]
    assert 0 < report["macro_f1"] < 1 and 0 <= report["ece"] < 0.05 and plot.stat().st_size > 10_000
    assert abs(report["accuracy"] - card["training"]["accuracy"]["PrivateTest (FER+ majority)"]) < 0.002
