# `make demo` and `make test` each set up everything on a fresh machine first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= ../shared
CHECKPOINT := soundnet8
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test test-fast lint clean
# A recipe that fails removes its half-written target (say soundnet8/config.json), so the next run redoes it.
.DELETE_ON_ERROR:

$(STAMP): pyproject.toml requirements/constraints.txt
	@command -v ffmpeg >/dev/null || { echo "Installing ffmpeg (Debian package)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q ffmpeg; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "Installing python3-venv (Debian package)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-venv; }
	@[ -x $(VENV)/bin/pip ] || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -q -c requirements/constraints.txt -e ".[train,dev,export]"
	@touch $(STAMP)

setup: $(STAMP)

# What the converted checkpoint is made of: the converter, the modules whose code or labels it saves, its card.
CONVERSION_INPUTS := $(wildcard src/hf_soundnet/conversion/*.py src/hf_soundnet/categories/*.txt) \
	src/hf_soundnet/model_cards/soundnet8.md src/hf_soundnet/cli/convert.py \
	$(addprefix src/hf_soundnet/,__init__.py configuration_soundnet.py modeling_soundnet.py losses.py \
	feature_extraction_soundnet.py categories.py hub.py)

$(CHECKPOINT)/config.json: $(STAMP) $(CONVERSION_INPUTS)
	$(VENV)/bin/soundnet convert --output-dir $(CHECKPOINT)

demo: $(CHECKPOINT)/config.json
	HF_HUB_OFFLINE=1 $(PY) examples/demo.py $(SHARED)/audio/railroad.wav $(SHARED)/audio/forest_track.mp3

# transformers' common test mixins of the installed version, from its checksummed sdist (cached, offline once fetched).
TRANSFORMERS_TESTS = $(PY) tests/fetch_transformers_tests.py

test: $(CHECKPOINT)/config.json
	$(TRANSFORMERS_TESTS)
	HF_HUB_OFFLINE=1 SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q

test-fast: $(STAMP)
	$(TRANSFORMERS_TESTS)
	HF_HUB_OFFLINE=1 SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check src tests conversion examples benchmarks
	$(PY) -m ruff format --check src tests conversion examples benchmarks

clean:
	rm -rf $(VENV) $(CHECKPOINT) .pytest_cache
