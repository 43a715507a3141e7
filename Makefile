# `make run` and `make test` do all set-up first (venv, pinned packages, messages); a second
# call reinstalls nothing (each step leaves a stamp file in .venv that make compares).
SHELL := /bin/bash
PYTHON ?= python3
# Overridable for other venvs (tools/apt_numpy1.sh builds one over a ROS-from-apt style Python).
VENV ?= .venv
REQUIREMENTS ?= requirements.txt
CONSTRAINTS ?= constraints.txt
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.stamp-deps
MSGS_STAMP := $(VENV)/.stamp-fer_msgs
PKG_STAMP := $(VENV)/.stamp-fer_ros
TOOLS_STAMP := $(VENV)/.stamp-ros2cli
HRI_STAMP := $(VENV)/.stamp-hri_msgs
MSG_BUILD := $(VENV)/build
# The real ros2 command, launch and launch_ros, and hri_msgs (ROS4HRI), from the shared folder
# beside the checkout (../shared); without it they are skipped, and so are the tests needing them.
SHARED ?= ../shared
ROS2CLI := $(wildcard $(SHARED)/ros2cli/install.sh)
HRI_MSGS := $(wildcard $(SHARED)/ros4hri/hri_msgs/package.xml)

.PHONY: setup run test bench check-apt hri-face-detect clean

setup: $(PKG_STAMP) $(TOOLS_STAMP) $(HRI_STAMP)

run: setup
	$(BIN)/fer-run $(ARGS)

test: setup
	tools/hri_face_detect_venv.sh --try $(HRI_VENV) $(SHARED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/fer-bench $(ARGS)

# ROS4HRI's hri_face_detect, built from $(SHARED)/ros4hri in a venv of its own (MediaPipe 0.10.21
# needs numpy < 2), for test_hri_face_detect.py: `make test` tries it (a failure becomes that
# test's skip reason); this target fails loudly instead.
HRI_VENV ?= .venv-hri
hri-face-detect:
	tools/hri_face_detect_venv.sh $(HRI_VENV) $(SHARED)

# Not part of `make test` (it installs Debian packages; root): the README's pip line for a ROS
# install over apt's numpy 1.x and OpenCV 4.6, checked (tools/apt_numpy1.sh).
check-apt:
	tools/apt_numpy1.sh

# A stock Debian 12 / Ubuntu 24.04 lacks the venv module and the headers and tools the message
# build needs: say what to install rather than fail half-way.
$(BIN)/python:
	@missing=""; $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	[ -f "$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || missing="$$missing python3-dev"; \
	command -v cmake >/dev/null || missing="$$missing cmake"; command -v g++ >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then echo "error: make setup needs:$$missing (sudo apt install$$missing)"; exit 1; fi
	$(PYTHON) -m venv $(VENV)

# The ROS wheels' cmake exports name the Python include folder of the machine that built them
# (/opt/python/cp311-cp311/include/python3.11, cp312-cp312/.../python3.12, any cpXY tag): point
# them at this interpreter's, and their numpy include at this venv's numpy, before building messages.
$(DEPS_STAMP): $(REQUIREMENTS) $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r $(REQUIREMENTS) $(addprefix -c ,$(CONSTRAINTS))
	inc=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])'); \
	npinc=$$($(BIN)/python -c 'import numpy; print(numpy.get_include())'); \
	grep -rlE '/opt/python/cp[0-9]+-cp[0-9]+' --include='*.cmake' $(VENV)/share | xargs -r sed -i -E \
	  -e "s#/opt/python/cp[0-9]+-cp[0-9]+/lib/python3\.[0-9]+t?/site-packages/numpy/(_core|core)/include#$$npinc#g" \
	  -e "s#/opt/python/cp[0-9]+-cp[0-9]+/include/python3\.[0-9]+t?#$$inc#g"
	touch $@

# fer_msgs is built with cmake and installed into the venv prefix (its overlay): the
# wheels' bootstrap already puts <venv>/lib on LD_LIBRARY_PATH. Its build folder is inside the
# venv, not build/: that is colcon's, and colcon would reuse a CMake cache pointing at the venv.
# $(call build_msgs,SOURCE_DIR,NAME): configure, build and install a message package into the venv.
define build_msgs
	mkdir -p $(MSG_BUILD); export AMENT_PREFIX_PATH=$(abspath $(VENV)) CMAKE_PREFIX_PATH=$(abspath $(VENV)); \
	cmake -S $(1) -B $(MSG_BUILD)/$(2) -DCMAKE_INSTALL_PREFIX=$(abspath $(VENV)) \
	  -DPython3_EXECUTABLE=$(abspath $(BIN))/python -DBUILD_TESTING=OFF > $(MSG_BUILD)/$(2).log 2>&1 \
	&& cmake --build $(MSG_BUILD)/$(2) -j2 >> $(MSG_BUILD)/$(2).log 2>&1 \
	&& cmake --install $(MSG_BUILD)/$(2) >> $(MSG_BUILD)/$(2).log 2>&1 \
	|| { tail -n 30 $(MSG_BUILD)/$(2).log; exit 1; }
endef

$(MSGS_STAMP): $(DEPS_STAMP) fer_msgs/CMakeLists.txt fer_msgs/package.xml $(wildcard fer_msgs/msg/*.msg)
	$(call build_msgs,fer_msgs,fer_msgs)
	touch $@

$(HRI_STAMP): $(DEPS_STAMP) $(HRI_MSGS)
	$(if $(HRI_MSGS),$(call build_msgs,$(dir $(HRI_MSGS)),hri_msgs),@echo "no $(SHARED)/ros4hri: hri_msgs not built")
	touch $@

$(TOOLS_STAMP): $(DEPS_STAMP) $(ROS2CLI)
	$(if $(ROS2CLI),$(ROS2CLI) $(VENV) > $(VENV)/ros2cli-install.log 2>&1 || { tail -n 30 $(VENV)/ros2cli-install.log; exit 1; },@echo "no $(SHARED)/ros2cli: ros2 tools not installed")
	touch $@

$(PKG_STAMP): $(MSGS_STAMP) setup.py setup.cfg package.xml
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

clean:
	rm -rf $(VENV) $(HRI_VENV) build
