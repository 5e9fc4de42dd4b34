# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 8000
MQTT_PORT ?= 1883

SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-stamp
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
# sam build needs the Lambda runtime's Python, 3.12: python3.12 on PATH when it runs, else the
# newest 3.12 that pyenv has installed (its shims may be on PATH without one selected), or the one
# you name: make sam-check PY312=/path/to/python3.12
ifndef PY312
PY312 := $(shell if python3.12 -c '' >/dev/null 2>&1; then command -v python3.12; \
	elif command -v pyenv >/dev/null 2>&1 && v=$$(pyenv latest 3.12 2>/dev/null); then \
	PYENV_VERSION=$$v pyenv which python3.12 2>/dev/null; fi)
endif

# What the tests need from the system, as Debian package:command pairs: Chromium (the browser
# tier), tmux (the terminal tests), mosquitto-clients (mosquitto_pub/mosquitto_sub, the MQTT tests).
# Installed when a command is missing and we may (root, apt-get); otherwise one line says what to run.
SYSTEM_PACKAGES := chromium:chromium tmux:tmux mosquitto-clients:mosquitto_pub npm:npm

.PHONY: run test test-beside-pip pip-checks system-deps wheel-check lint typecheck template-check sam-check unit e2e browser \
	bench clean constraints

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/hubbub serve --port $(PORT) --mqtt-port $(MQTT_PORT)

# CI's one command. The checks that mostly wait on pip and the network (the SAM CLI's venv and
# `sam build`, the wheel in a fresh venv, the quickstart's `make run` in a fresh clone, whose one
# deadline is 10 minutes) run beside lint, types and the unit and contract tests, which have no
# deadline a busy core breaks; the e2e tiers, whose servers do, run alone after them.
# The e2e tests marked `store` (behaviour the two stores implement separately: CONTRIBUTING.md,
# "Which e2e tests run on DynamoDB"; tests/unit/test_store_selection.py) run again on
# `--store dynamodb` (moto); the browser tier runs in its own session (Playwright's sync API owns
# the main thread's loop).
QUICKSTART := tests/e2e/test_quickstart.py
test: system-deps $(STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-beside-pip pip-checks
	$(BIN)/pytest tests/e2e --ignore=$(QUICKSTART)
	HUBBUB_E2E_STORE=dynamodb $(BIN)/pytest tests/e2e
	$(BIN)/pytest -m browser

# the two lanes `make test` runs side by side, each one step at a time (make warns that -j1
# resets the jobserver in the sub-make: that is the point, a lane's steps take no second slot)
test-beside-pip: $(STAMP)
	$(MAKE) --no-print-directory -j1 lint typecheck template-check
	$(BIN)/pytest -m "not browser" --ignore=tests/e2e

pip-checks: $(STAMP)
	$(MAKE) --no-print-directory -j1 sam-check wheel-check
	$(BIN)/pytest $(QUICKSTART)

system-deps:
	@missing=""; for pc in $(SYSTEM_PACKAGES); do \
		command -v $${pc##*:} >/dev/null 2>&1 || missing="$$missing $${pc%%:*}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing (Debian packages the tests need)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "make test needs$$missing: run  sudo apt-get install --no-install-recommends$$missing"; \
		exit 1; \
	fi

# The wheel a user installs, in a fresh venv, serving from an empty directory (about a minute).
wheel-check: $(STAMP)
	$(BIN)/python tools/packaging/wheel_check.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy tools/capacity tools/packaging

template-check: $(STAMP)
	$(BIN)/cfn-lint template.yaml

# aws-sam-cli pins its own boto3, so it lives in its own venv, out of the runtime dependencies.
$(SAM_STAMP): tools/sam/requirements.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r tools/sam/requirements.txt
	touch $(SAM_STAMP)

sam-check: $(STAMP) $(SAM_STAMP)
	@test -n "$(PY312)" || { echo "sam-check needs Python 3.12 (the Lambda runtime's): put" \
		"python3.12 on PATH, or 'pyenv install 3.12', or make PY312=/path/to/python3.12"; exit 1; }
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint --template template.yaml
	rm -rf build/sam
	PATH="$(dir $(PY312)):$$PATH" $(SAM_ENV) $(SAM_VENV)/bin/sam build --template template.yaml \
		--build-dir build/sam --parameter-overrides Architecture=x86_64
	$(PY312) -m compileall -q -j 0 --invalidation-mode unchecked-hash build/sam
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
