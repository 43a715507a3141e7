#!/usr/bin/env bash
# The package on a ROS 2 install from apt, where numpy is 1.x (Humble 1.21, Jazzy 1.26): a venv
# made with --system-site-packages over the system's python3-numpy and python3-opencv (Debian 12:
# 1.24 and 4.6; Ubuntu 24.04, in the root of `CHECK_APT=1 tools/fresh_debian.sh noble`: 1.26 and
# 4.6), then the README's pip line for that path. Checks:
# numpy stays the system's 1.x; YuNet finds faces and the JAFFE accuracy of the vision core equals
# the numpy-2 venv's (.venv, from `make setup`); the emotion node answers frames (fer-run on the
# sample clip). No ROS 2 from apt here (Debian has none; ROS's archive is not reachable): the ROS 2
# wheels from PyPI stand in for apt's rclpy, installed with numpy held at the system's (they were
# built against numpy 2 and also run on 1.x). Needs root (apt), the distribution's archive and
# PyPI; about 5 minutes. `sudo make check-apt`.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
V=${1:-/var/tmp/fer-apt-venv}
[ "$(id -u)" = 0 ] || { echo "error: tools/apt_numpy1.sh needs root (apt-get install)"; exit 2; }
echo "== the system's python3-numpy and python3-opencv"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy python3-opencv python3-venv python3-dev cmake g++ make \
  > /var/tmp/apt-numpy1.log 2>&1 || { tail -n 20 /var/tmp/apt-numpy1.log; exit 1; }
rm -rf "$V"
/usr/bin/python3 -m venv --system-site-packages "$V"
versions() { "$V/bin/python" -c 'import numpy, cv2; print(f"numpy {numpy.__version__} ({numpy.__file__}), OpenCV {cv2.__version__} ({cv2.__file__})")'; }
echo "before: $(versions)"
echo "== the README's pip line for a ROS install"
quiet() { "$@" 2>&1 | sed '/^WARNING: Location/d'; }  # this machine's pip config names local indexes it lacks
quiet "$V/bin/pip" install -q --disable-pip-version-check -c constraints-ros-apt.txt \
  "opencv-python-headless<5" dlib-bin face-recognition-models ai-edge-litert
echo "after: $(versions)"
echo "== the ROS 2 wheels as a stand-in for apt's ROS, and this package (make's own steps)"
grep -E '^(ros-|catkin-pkg|colcon-common)' requirements.txt > "$V/ros-requirements.txt"
# constraints.txt without the packages constraints-ros-apt.txt pins (numpy 2 among them)
pinned=$(grep -oE '^[A-Za-z0-9_.-]+' constraints-ros-apt.txt | tr 'A-Z_.' 'a-z--' | paste -sd'|')
while read -r line; do
  name=$(printf '%s' "${line%%==*}" | tr 'A-Z_.' 'a-z--')
  [[ "$name" =~ ^($pinned)$ ]] || printf '%s\n' "$line"
done < <(grep -E '^[A-Za-z0-9]' constraints.txt) > "$V/ros-constraints.txt"
quiet make -s VENV="$V" REQUIREMENTS="$V/ros-requirements.txt" CONSTRAINTS="constraints-ros-apt.txt $V/ros-constraints.txt" \
  "$V/.stamp-fer_ros"
echo "after the ROS wheels: $(versions)"
"$V/bin/python" -c 'import numpy, sys; sys.exit(0 if numpy.__version__.startswith("1.") else "numpy 2 in front of the system numpy 1.x")'
echo "== JAFFE, vision core (YuNet, dlib eyes, int8 model + mirror), numpy 1.x venv and numpy 2 venv"
"$V/bin/fer-evaluate" --dataset jaffe --flip --json "$V/jaffe_numpy1.json" | tail -n 1
[ -x .venv/bin/fer-evaluate ] || make -s setup
.venv/bin/fer-evaluate --dataset jaffe --flip --json "$V/jaffe_numpy2.json" | tail -n 1
"$V/bin/python" - "$V" <<'PY'
import json, sys
one, two = (json.load(open(f"{sys.argv[1]}/jaffe_numpy{n}.json")) for n in (1, 2))
print(f"JAFFE accuracy: numpy 1.x {one['accuracy']:.4f} ({one['detected']}/{one['n']} faces), "
      f"numpy 2 {two['accuracy']:.4f} ({two['detected']}/{two['n']} faces)")
sys.exit(0 if (one["accuracy"], one["detected"]) == (two["accuracy"], two["detected"]) else "JAFFE figures differ")
PY
echo "== the emotion node on the sample clip (fer-run: camera node, emotion node, DDS)"
ROS_DOMAIN_ID=77 ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST "$V/bin/fer-run" --frames 20 --json "$V/run.json" | tail -n 1
"$V/bin/python" - "$V" <<'PY'
import json, sys
lines = [json.loads(line) for line in open(f"{sys.argv[1]}/run.json")]
with_face = sum(1 for line in lines if line["faces"])
print(f"fer-run: {len(lines)} frames answered, {with_face} with a face")
sys.exit(0 if len(lines) == 20 and with_face == 20 else "the emotion node did not answer every frame with a face")
PY
echo "== check-apt: passed ($(versions))"
