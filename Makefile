# VitalSync developer entry points. `make run` and `make test` are the two commands a newcomer needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint unit integration stop bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 (or run make PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv with the pinned dependencies

run: setup  ## install what is missing, start the stack, run a simulated fleet through a gateway, show where to look
	$(BIN)/vitalsync stack up
	$(BIN)/vitalsync stack demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy vitalsync_cli.py services simulator shared infra

unit: setup
	$(BIN)/pytest -q tests/unit

integration: setup
	$(BIN)/pytest -q tests/integration tests/e2e

test: setup lint  ## lint, type-check, then every test tier (the stack starts itself if needed)
	$(BIN)/pytest -q tests

stop:  ## stop what `make run` started
	$(BIN)/vitalsync stack down

bench: setup
	$(BIN)/python -m bench.stack_startup
	$(BIN)/python -m bench.ble_codec_rate

clean: stop
	rm -rf .stack
