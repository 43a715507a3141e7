# `make run` and `make test` do all set-up first (venv, pinned packages, messages); a second
# call reinstalls nothing (each step leaves a stamp file in .venv that make compares).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.stamp-deps
MSGS_STAMP := $(VENV)/.stamp-fer_msgs
PKG_STAMP := $(VENV)/.stamp-fer_ros

.PHONY: setup run test bench clean

setup: $(PKG_STAMP)

run: setup
	$(BIN)/fer-run $(ARGS)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/fer-bench $(ARGS)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The ROS wheels' cmake exports name the Python include folder of the machine that built
# them (/opt/python/cp311-cp311); point them at this interpreter's before building messages.
$(DEPS_STAMP): requirements.txt constraints.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt
	inc=$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])'); \
	npinc=$$($(BIN)/python -c 'import numpy; print(numpy.get_include())'); \
	grep -rl /opt/python/cp311-cp311 --include='*.cmake' $(VENV)/share | xargs -r sed -i \
	  -e "s#/opt/python/cp311-cp311/include/python3.11#$$inc#g" \
	  -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$$npinc#g"
	touch $@

# fer_msgs is built with cmake and installed into the venv prefix (its overlay): the
# wheels' bootstrap already puts <venv>/lib on LD_LIBRARY_PATH.
$(MSGS_STAMP): $(DEPS_STAMP) fer_msgs/CMakeLists.txt fer_msgs/package.xml $(wildcard fer_msgs/msg/*.msg)
	mkdir -p build; export AMENT_PREFIX_PATH=$(CURDIR)/$(VENV) CMAKE_PREFIX_PATH=$(CURDIR)/$(VENV); \
	cmake -S fer_msgs -B build/fer_msgs -DCMAKE_INSTALL_PREFIX=$(CURDIR)/$(VENV) \
	  -DPython3_EXECUTABLE=$(CURDIR)/$(BIN)/python -DBUILD_TESTING=OFF > build/fer_msgs.log 2>&1 \
	&& cmake --build build/fer_msgs -j2 >> build/fer_msgs.log 2>&1 \
	&& cmake --install build/fer_msgs >> build/fer_msgs.log 2>&1 \
	|| { tail -n 30 build/fer_msgs.log; exit 1; }
	touch $@

$(PKG_STAMP): $(MSGS_STAMP) setup.py setup.cfg package.xml
	$(BIN)/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $@

clean:
	rm -rf $(VENV) build
