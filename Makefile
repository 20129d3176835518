# Set-up is idempotent: the virtual environment in .venv is created once and reinstalled
# only when pyproject.toml or constraints.txt change.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PEBENCH_CACHE_DIR ?= $(CURDIR)/.cache
export MPLCONFIGDIR := $(PEBENCH_CACHE_DIR)/matplotlib
export HF_HOME := $(PEBENCH_CACHE_DIR)/huggingface
export TORCHINDUCTOR_CACHE_DIR := $(PEBENCH_CACHE_DIR)/inductor
export WANDB_DIR := $(PEBENCH_CACHE_DIR)/wandb
export WANDB_MODE ?= offline
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: install demo test test-all lint clean gpu-check gpu-wheels

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pebench sweep configs/sweeps/demo.yaml --output-dir runs/demo --workers 2

# test files are spread over TEST_WORKERS processes (pytest-xdist), one file per process so
# module fixtures are built once; on 2 cores this halves the suite's wall time
TEST_WORKERS ?= 2

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -m "not slow" -q -n $(TEST_WORKERS) --dist loadfile

test-all: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

# On a GPU machine (no venv needed: pebench runs from the checkout via PYTHONPATH, see the
# README's "Running on GPUs"): the cuda tests, bench, train and a shared-GPU sweep, one table.
GPU_PYTHON ?= $(if $(wildcard $(VENV)/bin/python),$(VENV)/bin/python,python3)
gpu-check:
	$(GPU_PYTHON) scripts/gpu_check.py

# The GPU extra (flash-linear-attention's kernels) as wheels for the lent GPU machine, added to
# the .whl/ that ../shared/hooks/device-prep fills (run after it; both install with --no-deps).
GPU_WHEELS := fla-core==0.6.0 einops==0.8.2
gpu-wheels:
	python3 -m pip download -q --no-deps --only-binary=:all: -d .whl $(GPU_WHEELS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
