# The two commands of the README:
#   make demo   - set everything up (first run: a few minutes) and run the main job
#   make test   - set everything up and run the whole test suite
# Both are quick when nothing changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: help setup build test demo clean

help:
	@echo "make demo   run the main job (sets up the environment on first use)"
	@echo "make test   run the test suite (sets up the environment on first use)"
	@echo "make setup  virtual environment with ROS 2 wheels, torch (CPU), tools"
	@echo "make build  colcon build of the package (and stand-ins) into build/colcon/install"

setup:
	@bash scripts/setup_env.sh

build: setup
	@bash scripts/build.sh

test: build
	@bash scripts/run_tests.sh $(PYTEST_ARGS)

demo: build
	@bash scripts/demo.sh $(DEMO_ARGS)

clean:
	rm -rf build
