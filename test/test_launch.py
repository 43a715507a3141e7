"""The launch file, checked statically.

`launch` and `launch_ros` have no wheels (PyPI's `launch` is an unrelated project), so the
launch file is imported under a stand-in that records the actions it creates; the test then
checks that every executable and parameter file it names exists. On a real ROS install the
same file runs under the real packages (`ros2 launch fer_ros webcam.launch.py`).
"""

import importlib.util
import re
import sys
import types
from pathlib import Path

import yaml

from fer_ros.graph import GRAPH, PACKAGE, config_dir

ROOT = Path(__file__).resolve().parents[1]


class Recorded:
    """Stand-in for any launch action or substitution: keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def stand_in_modules() -> dict[str, types.ModuleType]:
    modules = {}
    for name, attrs in {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument", "SetEnvironmentVariable"],
        "launch.substitutions": ["LaunchConfiguration"],
        "launch_ros": [],
        "launch_ros.actions": ["Node"],
    }.items():
        module = types.ModuleType(name)
        for attr in attrs:
            setattr(module, attr, type(attr, (Recorded,), {}))
        modules[name] = module
    return modules


def load_launch_description(monkeypatch):
    for name, module in stand_in_modules().items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("webcam_launch", ROOT / "launch" / "webcam.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def console_scripts() -> set[str]:
    setup = (ROOT / "setup.py").read_text()
    return set(re.findall(r'^\s+"([\w-]+)": "fer_\w+\.\w+:main"', setup, re.M))


def test_launch_file_names_existing_executables_and_parameter_files(monkeypatch):
    description = load_launch_description(monkeypatch)
    actions = description.args[0]
    nodes = [a for a in actions if type(a).__name__ == "Node"]
    assert [(n.kwargs["executable"], n.kwargs["name"], n.kwargs["namespace"]) for n in nodes] == \
        [(s.executable, s.name, s.namespace) for s in GRAPH]
    scripts = console_scripts()
    for node in nodes:
        assert node.kwargs["package"] == PACKAGE
        assert node.kwargs["executable"] in scripts
        assert (Path(sys.executable).parent / node.kwargs["executable"]).exists()
    declared = {a.args[0]: a.kwargs["default_value"] for a in actions
                if type(a).__name__ == "DeclareLaunchArgument"}
    params_file = Path(declared["params_file"])
    assert params_file.is_file()
    params = yaml.safe_load(params_file.read_text())
    for spec in GRAPH:
        assert f"/{spec.namespace}/{spec.name}" in params
    env = {a.args[0]: a.args[1] for a in actions if type(a).__name__ == "SetEnvironmentVariable"}
    assert env and all(Path(p).is_file() for p in env.values())


def test_launch_and_config_are_installed_to_share():
    setup = (ROOT / "setup.py").read_text()
    assert '("share/fer_ros/launch", glob("launch/*.launch.py"))' in setup
    assert '("share/fer_ros/config", glob("config/*"))' in setup
    assert config_dir() == ROOT / "config"
