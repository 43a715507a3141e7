#!/usr/bin/env bash
# ROS4HRI's hri_face_detect, built unchanged from ../shared/ros4hri into a venv of its own
# (MediaPipe 0.10.21, the last with mediapipe.python.solutions, pins numpy < 2 and protobuf < 5, so
# it cannot share .venv): the ROS wheels and its Python dependencies (requirements-hri.txt, pinned
# by constraints-hri.txt), hri_msgs, then its CMake package (C++ YuNet through pybind11), as a
# release build as the ROS build farm makes its apt packages (unoptimised, YuNet is several times slower).
#
#   tools/hri_face_detect_venv.sh [--try] [VENV [SHARED]]     (defaults: .venv-hri ../shared)
#
# A second call with the same requirements does nothing. With --try (what `make test` runs) a
# failure is not an error: its reason goes to VENV/UNAVAILABLE, which test_hri_face_detect.py
# gives as its skip reason, and the script exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
try=false
if [ "${1:-}" = "--try" ]; then try=true; shift; fi
venv=${1:-.venv-hri}
shared=${2:-../shared}
stamp="$venv/.stamp-hri_face_detect"
source_dir="$shared/ros4hri/hri_face_detect"
want=$(cat "$0" requirements-hri.txt constraints-hri.txt "$source_dir/package.xml" 2>/dev/null | sha256sum | cut -c1-16)

unavailable() {
    echo "hri_face_detect venv not built: $1"
    if $try; then mkdir -p "$venv"; echo "$1" > "$venv/UNAVAILABLE"; rm -f "$stamp"; exit 0; fi
    exit 1
}

[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && exit 0
[ -f "$source_dir/package.xml" ] || unavailable "no $source_dir (ROS4HRI's source comes with ../shared)"
rm -f "$venv/UNAVAILABLE"
log="$venv/hri-build.log"
mkdir -p "$venv"
echo "building hri_face_detect into $venv (pip about 40 s, build about 50 s; log: $log)"
# The Makefile's own steps, for this venv: pip with the constraints, the wheels' cmake paths, hri_msgs.
if ! make --no-print-directory VENV="$venv" REQUIREMENTS=requirements-hri.txt CONSTRAINTS=constraints-hri.txt \
        SHARED="$shared" "$venv/.stamp-hri_msgs" > "$log" 2>&1; then
    reason=$(grep -E "^ERROR|error:|No matching distribution|Could not" "$log" | head -n 2 | tr '\n' ' ')
    unavailable "pip or the hri_msgs build failed (${reason:-see $log}) (needs the package registry and a compiler)"
fi
prefix=$(cd "$venv" && pwd)
export AMENT_PREFIX_PATH="$prefix" CMAKE_PREFIX_PATH="$prefix"
build="$venv/build/hri_face_detect"
if ! { cmake -S "$source_dir" -B "$build" -DCMAKE_INSTALL_PREFIX="$prefix" -DPython3_EXECUTABLE="$prefix/bin/python" \
         -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release -Dpybind11_DIR="$("$prefix/bin/python" -m pybind11 --cmakedir)" \
       && cmake --build "$build" -j2 && cmake --install "$build"; } >> "$log" 2>&1; then
    unavailable "the hri_face_detect CMake build failed (see $log)"
fi
echo "$want" > "$stamp"
