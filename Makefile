# The two commands a newcomer needs: `make serve` and `make test`. Both create the virtual
# environment and install the project first when needed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export PYTHONPATH := layers/common:.

.PHONY: serve test lint format typecheck unit e2e bench keys openapi deploy clean

$(INSTALLED): pyproject.toml layers/common/requirements.txt functions/parse_document/requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
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
