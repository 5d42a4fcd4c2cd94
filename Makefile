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

.PHONY: serve test lint format typecheck unit e2e fuzz bench keys openapi lock build deploy clean ragflow-suites

# Every deployment unit's lock (requirements.txt beside a requirements.in): a changed lock rebuilds the venv.
LOCKS := $(patsubst %.in,%.txt,$(wildcard layers/*/requirements.in functions/*/requirements.in))

$(INSTALLED): pyproject.toml $(LOCKS) functions/ocr_page/requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found: install it (e.g. pyenv install $(PYTHON_VERSION)) or pass PYTHON=/path/to/python$(PYTHON_VERSION)"; exit 1; }
	rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[parsing,ocr,dev]'
	touch $(INSTALLED)

# Deploy tools in a venv of their own: the SAM CLI pins its own boto3, Flask and pydantic.
TOOLS := .tools
SAM_VERSION := 1.170.0
UV_VERSION := 0.13.8
TOOLS_INSTALLED := $(TOOLS)/.installed-sam$(SAM_VERSION)-uv$(UV_VERSION)
SAM := SAM_CLI_TELEMETRY=0 PATH="$(abspath $(BIN)):$$PATH" $(TOOLS)/bin/sam

$(TOOLS_INSTALLED):
	@test -n "$(PYTHON)" || { echo "Python $(PYTHON_VERSION) not found"; exit 1; }
	rm -rf $(TOOLS) && $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION) uv==$(UV_VERSION)
	touch $(TOOLS_INSTALLED)

# FRESH=1 starts empty: the data kept in .local/data (KB_LOCAL_DATA_DIR) is deleted first.
serve: $(INSTALLED) ## start the local stack (moto + gateway on 127.0.0.1:9380); data kept in .local/data
	$(BIN)/python -m infra.local.serve $(if $(filter 1 true yes,$(FRESH)),--fresh)

# The suite runs with every AWS call each function makes recorded (tests/iam/recorder.py); then
# tests/iam/test_iam_calls.py checks those calls against each function's policies in template.yaml.
IAM_CALLS := .local/iam-calls

test: lint $(TOOLS_INSTALLED) ## lint, check the template, run every test, then check IAM against the calls made
	rm -rf $(IAM_CALLS)
	KB_IAM_RECORD=$(abspath $(IAM_CALLS)) $(BIN)/pytest -n 2 --dist loadfile --ignore=tests/iam/test_iam_calls.py
	KB_IAM_RECORDINGS=$(abspath $(IAM_CALLS)) $(BIN)/pytest -q tests/iam/test_iam_calls.py

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
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

# RAGFlow's own current API suites against the local stack, by hand (CI has no RAGFlow checkout):
#   make ragflow-suites RAGFLOW=/path/to/ragflow [SUITES="http-datasets sdk-datasets"] [ARGS="-- -x"]
ragflow-suites: $(INSTALLED) ## run RAGFlow's test suites against the local stack
	@test -n "$(RAGFLOW)" || { echo "RAGFLOW=/path/to/a/ragflow/checkout is required"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r infra/ragflow_suites/requirements.txt
	$(BIN)/python -m infra.ragflow_suites $(RAGFLOW) $(foreach s,$(SUITES),--suite $(s)) $(ARGS)

openapi: $(INSTALLED) ## regenerate docs/openapi.json from the routes
	$(BIN)/python -m infra.openapi

keys: $(INSTALLED) ## manage API keys: make keys ARGS="create --label me"
	$(BIN)/python -m infra.keys $(ARGS)

lock: $(INSTALLED) $(TOOLS_INSTALLED) ## re-resolve every requirements.in of template.yaml's units for their Lambda platform
	$(BIN)/python -m infra.lock

# `sam build` as the deploy does it (no Docker: the venv's python3.13 builds for arm64 from wheels),
# then every function's unpacked size, its layers included, against Lambda's limits.
build: $(INSTALLED) $(TOOLS_INSTALLED) ## sam build, then check package sizes against Lambda's limits
	$(BIN)/python -m infra.lock --check
	$(BIN)/python -m infra.build_template .build-template.yaml
	$(SAM) build --parallel --template-file .build-template.yaml
	$(BIN)/python -m infra.package_sizes

deploy: build ## build and deploy with the AWS SAM CLI (needs AWS credentials; samconfig.toml's prod config-env)
	$(SAM) deploy --config-env prod

clean:
	rm -rf $(VENV) $(TOOLS) .local .aws-sam .pytest_cache .ruff_cache .mypy_cache
