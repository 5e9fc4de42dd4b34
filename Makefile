# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000

SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
# sam build needs the Lambda runtime's Python (3.12); the machine image keeps one under pyenv
# (a pyenv shim is on PATH but not usable, so look for the real interpreter first)
PY312 ?= $(shell p=$$(ls -d /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -n 1); \
	if [ -n "$$p" ]; then echo "$$p"; else command -v python3.12; fi)

.PHONY: run test lint typecheck template-check sam-check unit e2e browser bench clean constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hubbub serve --port $(PORT)

# the e2e tests whose servers take the store under test run again on `--store dynamodb` (moto);
# the browser tier runs in its own session (Playwright's sync API owns the main thread's loop)
test: lint typecheck template-check sam-check
	$(BIN)/pytest -m "not browser"
	HUBBUB_E2E_STORE=dynamodb $(BIN)/pytest tests/e2e
	$(BIN)/pytest -m browser

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy tools/capacity

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml

# aws-sam-cli pins its own boto3, so it lives in its own venv, out of the runtime dependencies.
$(SAM_STAMP): tools/sam/requirements.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r tools/sam/requirements.txt
	touch $(SAM_STAMP)

sam-check: $(STAMP) $(SAM_STAMP)
	@test -n "$(PY312)" || { echo "sam-check needs python3.12, the Lambda runtime's Python"; exit 1; }
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint --template template.yaml
	rm -rf build/sam
	PATH="$(dir $(PY312)):$$PATH" $(SAM_ENV) $(SAM_VENV)/bin/sam build --template template.yaml \
		--build-dir build/sam --parameter-overrides Architecture=x86_64
	PATH="$(dir $(PY312)):$$PATH" $(BIN)/python tools/sam/check_artifact.py build/sam

unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/contract

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e
	HUBBUB_E2E_STORE=dynamodb $(BIN)/pytest tests/e2e

browser: $(STAMP)
	$(BIN)/pytest tests/browser

# Re-pin: resolve the newest allowed versions in a scratch venv and write constraints.txt.
constraints:
	rm -rf /tmp/hubbub-pin && $(PYTHON) -m venv /tmp/hubbub-pin
	/tmp/hubbub-pin/bin/pip install --quiet '.[dev]'
	/tmp/hubbub-pin/bin/pip freeze --exclude hubbub > constraints.txt

clean:
	rm -rf $(VENV) $(SAM_VENV) .mypy_cache .ruff_cache .pytest_cache build .aws-sam *.egg-info
