"""fer_ros and fer_training: one Python distribution, two ROS packages.

Console scripts go to `lib/fer_ros/` on a colcon build (setup.cfg) and to the venv's `bin/`
with pip. The fer_training tools also get launchers in `lib/fer_training/` and an ament index
entry, so that `ros2 run fer_training <tool>` finds them.
"""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

# Through fer_ros.ros.entry_points: SIGTERM is handled before the node's module is imported.
NODES = {
    "camera_node": "fer_ros.ros.entry_points:camera_node",
    "emotion_node": "fer_ros.ros.entry_points:emotion_node",
    "emotion_reactions": "fer_ros.ros.entry_points:emotion_reactions",
    "hri_expression": "fer_ros.ros.entry_points:hri_expression",
    "fer-run": "fer_ros.ros.entry_points:fer_run",
}
TOOLS = {
    "fer-train-image": "fer_training.training.image_command:main",
    "fer-evaluate": "fer_training.evaluation.evaluate:main",
    "fer-bench": "fer_training.bench.bench:main",
    "fer-calibrate": "fer_training.training.calibrate:main",
    "fer-class-balance": "fer_training.training.class_balance:main",
    "fer-ensemble": "fer_training.training.ensemble:main",
    "fer-export-model": "fer_training.training.export_model:main",
    "fer-preprocess-fer2013": "fer_training.data.preprocess_fer2013:main",
    "fer-make-bag": "fer_training.bags.make_bag:main",
    "fer-eval-bag": "fer_training.bags.eval_bag:main",
    "extract_frames": "fer_training.data.extract_frames:main",
    "create_list": "fer_training.data.create_list:main",
    "fer-make-clips": "fer_training.data.make_clips:main",
    "fer-train-clips": "fer_training.training.clip_command:main",
    "fer-evaluate-clips": "fer_training.evaluation.evaluate_clips:main",
}


RUNTIME = ["numpy", "opencv-python-headless<5", "dlib-bin", "face-recognition-models", "ai-edge-litert"]
TRAINING = ["tensorflow-cpu", "matplotlib", "tqdm", "rosbags"]


def tool_launchers() -> list[str]:
    """Small scripts for lib/fer_training/, written at build time from TOOLS."""
    folder = Path("build") / "fer_training_launchers"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, target in TOOLS.items():
        module, func = target.split(":")
        path = folder / name
        path.write_text(f"#!/usr/bin/env python3\nimport sys\nfrom {module} import {func}\n"
                        f"sys.exit({func}())\n")
        path.chmod(0o755)
        paths.append(str(path))
    return paths


setup(
    name="fer_ros",
    version="0.1.0",
    packages=find_packages("src"),
    package_dir={"": "src"},
    # What the nodes load (the .tflite files, cards, YuNet) and the sample media; the .keras files
    # and confusion plots (about 10 MB) stay in the source tree for the training tools.
    package_data={"fer_ros": ["models/*/*.tflite", "models/*/*.json", "models/*/*.md", "models/face_detector/*",
                              "data/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/fer_ros", "resource/fer_training"]),
        ("share/fer_ros", ["package.xml"]),
        ("share/fer_training", ["src/fer_training/package.xml"]),
        ("share/fer_ros/launch", glob("launch/*.launch.py")),
        ("share/fer_ros/config", glob("config/*")),
        ("lib/fer_training", tool_launchers()),
    ],
    # What the nodes need (rclpy and the messages come from ROS, or from requirements.txt on the
    # pip path); training, evaluation plots, bags and TensorFlow with the extra: pip install ".[train]".
    install_requires=RUNTIME,
    zip_safe=False,  # the models are read from files beside the code
    maintainer="fer_ros maintainers",
    maintainer_email="fer_ros@example.com",
    description="Facial emotion recognition for ROS 2",
    license="Apache-2.0",
    extras_require={"train": TRAINING, "test": ["pytest"]},
    entry_points={"console_scripts": [f"{k} = {v}" for k, v in {**NODES, **TOOLS}.items()]},
)
