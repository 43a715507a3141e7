"""The runtime side stays lean: node modules load models without TensorFlow or Keras, the runtime
package `fer_ros` imports nothing from `fer_training` (arrows run training -> runtime), and inside
each package the folders import one way: vision <- ros plumbing <- nodes <- runner; data <-
evaluation <- training, with bags, benchmarks and test harnesses on top."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import fer_ros

HEAVY = ("tensorflow", "keras", "jax", "torch")

# Every node-side entry point, with its models loaded and one face through each.
NODE_SIDE = """
import json, sys
import numpy as np
import fer_ros.nodes.camera_node, fer_ros.nodes.emotion_node, fer_ros.run
import fer_training.bench.bench, fer_training.bags.eval_bag
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.clip_stage import ClipStage
from fer_ros.vision.model_files import SHIPPED_CLIP_MODELS
image = EmotionClassifier()
clips = ClipStage({n: EmotionClassifier(p) for n, p in SHIPPED_CLIP_MODELS.items()}, image_model=image)
scores, features = image.scores_and_features(np.zeros((1, 48, 48), np.uint8))
for model in clips.models.values():
    model.scores_from_features(np.repeat(features[None], 12, axis=1))
    model.scores(np.zeros((1, 12, 48, 48), np.uint8))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_node_side_loads_and_runs_every_model_without_tensorflow_or_keras():
    result = subprocess.run([sys.executable, "-c", NODE_SIDE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "ai_edge_litert" in loaded  # the check can fail: the runtime it looks for is there
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_fer_ros_never_imports_fer_training():
    offenders = [f"{path.name}: {name}" for path in Path(fer_ros.__file__).parent.rglob("*.py")
                 for name in imported_names(path) if name.split(".")[0] in ("fer_training", *HEAVY)]
    assert offenders == []


FER_ROS = ("fer_ros.vision", "fer_ros.ros", "fer_ros.nodes", "fer_ros.sample_clip")
# What each folder (or top-level module) may import from the two packages.
MAY_IMPORT = {
    "fer_ros.vision": set(),
    "fer_ros.sample_clip": set(),
    "fer_ros.ros": {"fer_ros.vision"},
    "fer_ros.nodes": {"fer_ros.ros", "fer_ros.vision"},
    "fer_ros.run": {*FER_ROS},
    "fer_training.data": {"fer_ros.vision"},
    "fer_training.evaluation": {"fer_ros.vision", "fer_training.data"},
    "fer_training.training": {"fer_ros.vision", "fer_training.data", "fer_training.evaluation"},
    "fer_training.harness": {"fer_ros.ros"},
    "fer_training.bags": {*FER_ROS, "fer_training.data", "fer_training.evaluation"},
    "fer_training.bench": {*FER_ROS, "fer_training.data", "fer_training.evaluation", "fer_training.harness"},
}


def test_folders_import_one_way():
    source = Path(fer_ros.__file__).parents[1]
    seen, wrong = set(), []
    for path in source.rglob("*.py"):
        parts = path.relative_to(source).with_suffix("").parts
        if parts[-1] == "__init__":
            continue
        folder = ".".join(parts[:2])
        seen.add(folder)
        for name in imported_names(path):
            target = ".".join(name.split(".")[:2])
            if name.startswith(("fer_ros.", "fer_training.")) and target != folder \
                    and target not in MAY_IMPORT.get(folder, ()):
                wrong.append(f"{path.relative_to(source)} imports {name}")
    assert seen == set(MAY_IMPORT) and wrong == []


def imported_names(path: Path) -> list[str]:
    """Every module a source file names in an import statement, at any depth."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names += ([a.name for a in node.names] if isinstance(node, ast.Import)
                  else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
    return names


ROS_MODULES = ("rclpy", "rosidl_runtime_py", "builtin_interfaces", "std_msgs", "sensor_msgs", "diagnostic_msgs",
               "fer_msgs", "hri_msgs", "launch", "launch_ros")


def test_vision_core_imports_no_ros():
    """Every module of fer_ros.vision imported in a fresh interpreter: no ROS module gets loaded
    (the import list is checked too, so a lazy import inside a function cannot hide)."""
    vision = Path(fer_ros.__file__).parent / "vision"
    modules = sorted(f"fer_ros.vision.{p.stem}" for p in vision.glob("*.py") if p.stem != "__init__")
    assert len(modules) >= 11  # detect, align, classify, track, clip_stage, pipeline, ...
    code = f"import json, sys\nfor m in {modules!r}: __import__(m)\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    loaded = {m.split(".")[0] for m in json.loads(result.stdout.strip().splitlines()[-1])}
    assert "cv2" in loaded  # the check sees what the modules load
    assert loaded.isdisjoint(ROS_MODULES), sorted(loaded & set(ROS_MODULES))
    named = [f"{path.name}: {name}" for path in vision.glob("*.py")
             for name in imported_names(path) if name.split(".")[0] in ROS_MODULES]
    assert named == []
