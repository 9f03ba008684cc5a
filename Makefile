# Everything bootstraps a local .venv from requirements.lock; only python3, pip and git are assumed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint fmt typecheck bench lock proto proto-breaking clean

venv: $(STAMP)

$(STAMP): requirements-bootstrap.lock requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-bootstrap.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)
	@echo "ready: $(BIN)/nestr"

demo: venv
	@$(BIN)/nestr demo

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: venv
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/python -m pytest --cov --cov-report=term -q

fmt: venv
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: venv
	$(BIN)/python benchmarks/run_all.py

# Regenerate the lock after changing requirements.in (needs uv on PATH).
lock:
	uv pip compile requirements.in --generate-hashes --python-version 3.11 -o requirements.lock

# Regenerate src/nestr/server/_proto from proto/ (the generated modules are committed).
proto: venv
	$(BIN)/python proto/generate.py

# `buf breaking` of proto/ against the last release tag (v*); needs buf on PATH.
proto-breaking:
	$(PYTHON) proto/breaking.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
