# The two commands a newcomer needs: `make up` (run it) and `make test` (prove it).
# Each installs what is missing first, into .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install up test test-fast synth deploy destroy lint bench browser clean

$(STAMP): pyproject.toml
	@echo "==> installing Python packages into $(VENV) (first run takes a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Chromium from the distribution, for the browser tests (Playwright drives it by path).
browser:
	@command -v chromium >/dev/null || { \
	  echo "==> installing chromium (apt-get)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

up: install
	@$(PY) -m choreo up

# Two pytest workers, each taking whole files: the suite's end-to-end tests mostly wait on the
# system they drive, so two share two cores well (docs/testing.md has the figures).
TEST_WORKERS ?= 2

test: install browser
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	@$(PY) -m pytest -m "not e2e and not browser"

# What `make deploy` deploys, with the code and its packages bundled; nothing is deployed.
synth: install
	@$(PY) -m cdk.app --nag

# To the AWS account and region of the default credential chain (bootstrapped once with
# `npx aws-cdk@2 bootstrap`). CDK_ARGS passes more, e.g. CDK_ARGS="-c choreo:stackName=choreo-dev".
CDK := npx --yes aws-cdk@2
deploy: install
	@$(CDK) deploy $(CDK_ARGS)

destroy: install
	@$(CDK) destroy $(CDK_ARGS)

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy workflow functions cdk local dashboard choreo bench
	@$(VENV)/bin/lint-imports

bench: install
	@$(PY) -m bench

clean:
	rm -rf cdk.out .cache .pytest_cache .mypy_cache .ruff_cache
