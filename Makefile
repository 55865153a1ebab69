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

$(STAMP): pyproject.toml requirements/constraints.txt
	@command -v ffmpeg >/dev/null || { echo "Installing ffmpeg (Debian package)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q ffmpeg; }
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c requirements/constraints.txt -e ".[train,dev]"
	@touch $(STAMP)

setup: $(STAMP)

$(CHECKPOINT)/config.json: $(STAMP) $(wildcard conversion/*.py src/hf_soundnet/*.py model_cards/*.md)
	$(PY) conversion/convert_soundnet_original_to_hf.py --output-dir $(CHECKPOINT)

demo: $(CHECKPOINT)/config.json
	HF_HUB_OFFLINE=1 $(PY) examples/demo.py $(SHARED)/audio/railroad.wav $(SHARED)/audio/forest_track.mp3

test: $(CHECKPOINT)/config.json
	HF_HUB_OFFLINE=1 SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check src tests conversion examples benchmarks
	$(PY) -m ruff format --check src tests conversion examples benchmarks

clean:
	rm -rf $(VENV) $(CHECKPOINT) .pytest_cache
