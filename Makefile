# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

.PHONY: run test lint typecheck template-check unit e2e browser bench clean constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hubbub serve --port $(PORT)

test: lint typecheck template-check
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml

unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/contract

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e

browser: $(STAMP)
	$(BIN)/pytest tests/browser

# Re-pin: resolve the newest allowed versions in a scratch venv and write constraints.txt.
constraints:
	rm -rf /tmp/hubbub-pin && $(PYTHON) -m venv /tmp/hubbub-pin
	/tmp/hubbub-pin/bin/pip install --quiet '.[dev]'
	/tmp/hubbub-pin/bin/pip freeze --exclude hubbub > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
