"""The README and docs/ name only what exists: every tool they mention answers --help, every
`make` target is in the Makefile, every linked page and `tools/` script is there."""

import re
import subprocess

import pytest
from ros_helpers import ROOT

from fer_training.harness.node_process import bin_path

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = "\n".join(p.read_text() for p in PAGES)
# The console scripts setup.py installs: "name": "module:function".
SCRIPTS = re.findall(r'"([\w-]+)": "(?:fer_ros|fer_training)\.[\w.]+:\w+"', (ROOT / "setup.py").read_text())
NODES = {"camera_node", "emotion_node", "emotion_reactions", "hri_expression"}  # ROS nodes: --ros-args, not --help
TOOLS = sorted(s for s in SCRIPTS if s not in NODES and re.search(rf"(?<![\w/-]){re.escape(s)}(?![\w-])", TEXT))


def test_the_docs_name_the_tools():
    assert {"fer-run", "fer-evaluate", "fer-train-image", "fer-bench", "extract_frames", "create_list"} <= set(TOOLS)


@pytest.mark.parametrize("tool", TOOLS)
def test_every_tool_the_docs_name_answers_help(tool):
    result = subprocess.run([bin_path(tool), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr[-2000:]


def test_make_targets_links_and_scripts_exist():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"`(?:sudo )?make ([a-z-]+)", TEXT))
    assert targets >= {"run", "test", "bench"} and all(re.search(rf"^{t}:", makefile, re.M) for t in targets), targets
    for page in PAGES:
        for link in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (page.parent / link).is_file(), f"{page.name} links to {link}"
    scripts = set(re.findall(r"tools/[\w.]+\.sh", TEXT))
    assert scripts and all((ROOT / s).is_file() for s in scripts), scripts
