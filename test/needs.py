"""Skip marks for tests that need what `../shared` provides and a clone from the internet lacks:
the data sets (docs/install.md), the real ros2 tools and hri_msgs. Each skip names what is
missing in one line; everything else runs without them."""

import importlib
import sys
from pathlib import Path

import pytest

from fer_training.data.fer2013 import DATA_DIR_VARIABLE, default_data_dir

# The file each data set's readers open first.
DATA_SET_FILES = {"fer2013": "fer2013/labels.csv", "ferplus": "fer2013/ferplus.csv",
                  "jaffe": "jaffe/labels.csv", "ckplus48": "ckplus48/labels.csv"}


def data_sets(*names: str) -> pytest.MarkDecorator:
    """Skip unless every named data set is in the data folder."""
    missing = [n for n in names if not (default_data_dir() / DATA_SET_FILES[n]).is_file()]
    return pytest.mark.skipif(bool(missing), reason=f"needs the data set(s) {', '.join(missing)}, not in "
                              f"{default_data_dir()} (set ${DATA_DIR_VARIABLE}: docs/install.md)")


ROS2_TOOLS_MISSING = "needs the real ros2 tools from ../shared/ros2cli (make setup installs them)"
ros2_tools = pytest.mark.skipif(not (Path(sys.prefix) / "setup.bash").is_file(), reason=ROS2_TOOLS_MISSING)

def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


hri_msgs = pytest.mark.skipif(not _importable("hri_msgs.msg"),
                              reason="needs hri_msgs (make setup builds it from ../shared/ros4hri)")
