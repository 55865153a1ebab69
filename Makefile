# `make demo` and `make test` each set up everything on a fresh machine first (idempotent).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= ../shared
CHECKPOINT := soundnet8
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test test-fast test-kernels lint clean
# A recipe that fails removes its half-written target (say soundnet8/config.json), so the next run redoes it.
.DELETE_ON_ERROR:

$(STAMP): pyproject.toml requirements/constraints.txt
	@command -v ffmpeg >/dev/null || { echo "Installing ffmpeg (Debian package)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q ffmpeg; }
	@command -v chromium >/dev/null || { echo "Installing chromium (Debian package; the demo's browser test)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "Installing python3-venv (Debian package)"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3-venv; }
	@[ -x $(VENV)/bin/pip ] || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install -q -c requirements/constraints.txt -e ".[train,dev,export,demo,viz]"
	@touch $(STAMP)

setup: $(STAMP)

# What the converted checkpoint is made of: the converter, the modules whose code or labels it saves, its card.
CONVERSION_INPUTS := $(wildcard src/hf_soundnet/conversion/*.py src/hf_soundnet/categories/*.txt) \
	src/hf_soundnet/model_cards/soundnet8.md src/hf_soundnet/cli/convert.py \
	$(addprefix src/hf_soundnet/,__init__.py configuration_soundnet.py modeling_soundnet.py losses.py \
	feature_extraction_soundnet.py fast_forward_soundnet.py embedding_head.py categories.py hub.py)
# The pipeline's code, uploaded with the model's (the config declares it in `custom_pipelines`).
CONVERSION_INPUTS += $(addprefix src/hf_soundnet/,pipeline_soundnet.py decoding_soundnet.py errors.py)

$(CHECKPOINT)/config.json: $(STAMP) $(CONVERSION_INPUTS)
	$(VENV)/bin/soundnet convert --output-dir $(CHECKPOINT)

demo: $(CHECKPOINT)/config.json
	HF_HUB_OFFLINE=1 $(PY) examples/demo.py $(SHARED)/audio/railroad.wav $(SHARED)/audio/forest_track.mp3

# The README's pictures, from the shared recordings (needs the viz extra): a timeline PNG per file, the conv7 units
# gallery (outputs/pictures/units/index.html, its clips) and the conv1 filters (outputs/pictures/units/conv1_filters.png).
.PHONY: pictures
pictures: $(CHECKPOINT)/config.json
	@mkdir -p outputs/pictures
	HF_HUB_OFFLINE=1 $(VENV)/bin/soundnet classify $(SHARED)/audio --model $(CHECKPOINT) \
		--plot outputs/pictures/timelines > outputs/pictures/predictions.jsonl
	HF_HUB_OFFLINE=1 $(VENV)/bin/soundnet units $(SHARED)/audio --model $(CHECKPOINT) --layer conv7 --top-k 3 \
		--filters --output-dir outputs/pictures/units

# transformers' common test mixins of the installed version, from its checksummed sdist (cached, offline once fetched).
TRANSFORMERS_TESTS = $(PY) tests/fetch_transformers_tests.py

test: $(CHECKPOINT)/config.json
	$(TRANSFORMERS_TESTS)
	HF_HUB_OFFLINE=1 SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q
	@$(MAKE) --no-print-directory test-kernels

# Float32 results differ in their last bits between CPU kernels, so the numeric tests (`-m numeric`) run again under
# the kernels of other x86 CPUs: torch's ATEN_CPU_CAPABILITY with oneDNN and MKL capped to the same instruction set.
# The baseline ones always; AVX2 when this CPU has more (AVX-512); the native ones ran in `make test` itself.
# Each entry: ATEN_CPU_CAPABILITY:ONEDNN_MAX_CPU_ISA:MKL_ENABLE_INSTRUCTIONS.
CPU_KERNELS := default:SSE41:SSE4_2 avx2:AVX2:AVX2

test-kernels: $(CHECKPOINT)/config.json
	@native=$$($(PY) -c 'import torch; print(torch.backends.cpu.get_cpu_capability().lower())'); \
	for kernels in $(CPU_KERNELS); do IFS=: read -r aten onednn mkl <<< "$$kernels"; \
		if [ "$$aten" = "$$native" ]; then echo "CPU kernels $$aten: native, tested above"; continue; fi; \
		if [ "$$aten" = avx2 ] && [ "$$native" = default ]; then echo "CPU kernels avx2: not on this CPU"; continue; fi; \
		echo "Numeric tests under CPU kernels $$aten (oneDNN $$onednn, MKL $$mkl)"; \
		ATEN_CPU_CAPABILITY=$$aten ONEDNN_MAX_CPU_ISA=$$onednn MKL_ENABLE_INSTRUCTIONS=$$mkl HF_HUB_OFFLINE=1 \
			SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q -m numeric -p no:cacheprovider || exit 1; \
	done

test-fast: $(STAMP)
	$(TRANSFORMERS_TESTS)
	HF_HUB_OFFLINE=1 SOUNDNET_SHARED=$(SHARED) $(PY) -m pytest -q -m "not slow"

lint: $(STAMP)
	$(PY) -m ruff check src tests conversion examples benchmarks spaces
	$(PY) -m ruff format --check src tests conversion examples benchmarks spaces

clean:
	rm -rf $(VENV) $(CHECKPOINT) .pytest_cache
