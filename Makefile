# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make demo   creates .venv, installs actorserve, runs examples/quickstart.toml (experiments),
#               examples/backends.toml (an ONNX model it builds, a simulated LLM, Prometheus), then
#               examples/serve_demo.py (`actorserve serve` over HTTP, called by a client, stopped by SIGTERM)
#   make test   creates .venv, installs the test extras, runs lint, types and every test

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench bench-quick bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[cli,test,dev,bench]"
	touch $(STAMP)

IRIS := examples/models/iris.onnx

$(IRIS): | $(STAMP)
	$(BIN)/python examples/build_iris_model.py $(IRIS)

demo: $(STAMP) $(IRIS)
	$(BIN)/actorserve run examples/quickstart.toml
	$(BIN)/actorserve run examples/backends.toml
	$(BIN)/python examples/serve_demo.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

# Ray Serve in its own virtualenv, so its pins never meet ours; the harness finds it there.
bench-peers:
	$(PYTHON) -m venv .venv-ray
	.venv-ray/bin/python -m pip install --quiet --upgrade pip
	.venv-ray/bin/python -m pip install --quiet "ray[serve]" psutil

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
