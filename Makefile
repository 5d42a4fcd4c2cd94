# The two commands a newcomer needs: `make serve` and `make test`. Both create the virtual
# environment and install the project first when needed.
SHELL := /bin/bash
# One Python everywhere: the Lambda runtime (template.yaml), this venv and CI are 3.13.
# pyenv's python3.13 shim fails unless 3.13 is selected, so each candidate is asked for its version.
PYTHON_VERSION := 3.13
PYTHON ?= $(shell for p in python$(PYTHON_VERSION) $$HOME/.pyenv/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION) /usr/local/bin/python$(PYTHON_VERSION) /usr/bin/python$(PYTHON_VERSION); do \
	"$$p" -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(PYTHON_VERSION))))' 2>/dev/null && { echo "$$p"; break; }; done)
comma := ,
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the version, so a venv made by another Python is rebuilt rather than reused.
INSTALLED := $(VENV)/.installed-py$(PYTHON_VERSION)
export PYTHONPATH := layers/common:.

.PHONY: serve test lint format typecheck unit e2e fuzz bench keys openapi deploy clean

$(INSTALLED): pyproject.toml layers/common/requirements.txt functions/parse_document/requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found: install it (e.g. pyenv install $(PYTHON_VERSION)) or pass PYTHON=/path/to/python$(PYTHON_VERSION)"; exit 1; }
	rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[parsing,dev]'
	touch $(INSTALLED)

serve: $(INSTALLED) ## start the local stack (moto + gateway on 127.0.0.1:9380)
	$(BIN)/python -m infra.local.serve

test: lint ## lint, check the template, run every test
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint template.yaml
	$(BIN)/mypy
	$(BIN)/python -m infra.openapi --check

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(INSTALLED)
	$(BIN)/mypy

unit: $(INSTALLED)
	$(BIN)/pytest tests/unit

e2e: $(INSTALLED)
	$(BIN)/pytest tests/e2e

fuzz: $(INSTALLED) ## schemathesis over docs/openapi.json against a fresh local stack, with real ids
	$(BIN)/python -m infra.fuzz $(ARGS)

bench: $(INSTALLED) ## benchmarks: figures and ratios against baselines measured in the same run
	$(BIN)/python -m benchmarks

openapi: $(INSTALLED) ## regenerate docs/openapi.json from the routes
	$(BIN)/python -m infra.openapi

keys: $(INSTALLED) ## manage API keys: make keys ARGS="create --label me"
	$(BIN)/python -m infra.keys $(ARGS)

deploy: ## build and deploy with the AWS SAM CLI (needs AWS credentials)
	sam build && sam deploy --guided

clean:
	rm -rf $(VENV) .local .aws-sam .pytest_cache .ruff_cache .mypy_cache
