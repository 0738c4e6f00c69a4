# The single entry point: `make test` sets everything up on a fresh machine.
PYTHON ?= python3
# pyenv installs keep 3.13 outside PATH; fall back to whatever `python3.13` is.
PYTHON_LAMBDA ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)
VENV_LAMBDA := .venv-3.13
STAMP_LAMBDA := $(VENV_LAMBDA)/.installed-$(shell cat requirements-dev.txt pyproject.toml | cksum | cut -d' ' -f1)

VENV_SAM := .venv-sam
STAMP_SAM := $(VENV_SAM)/.installed-$(shell cat requirements-sam.txt | cksum | cut -d' ' -f1)

.PHONY: test lint unit test-lambda-python sam-check bench events config clean run browser-deps screenshots load \
	build-ViewerRequestFunction build-ViewerResponseFunction build-OriginResponseFunction build-ConsentApiFunction \
	build-EdgeConfigFunction build-SharedLayer

test: lint unit test-lambda-python sam-check

$(STAMP): requirements-dev.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

unit: $(STAMP) browser-deps
	$(BIN)/pytest

# The local edge: template.yaml's distribution, the demo site, DynamoDB (moto). `make run PORT=9000`,
# `make run ARGS="--origin https://staging.example.fr"`.
PORT ?= 8080
run: $(STAMP)
	$(BIN)/edge-consent run --port $(PORT) $(ARGS)

# The browser tests drive Debian's Chromium: installed here when missing, never downloaded by Playwright.
browser-deps:
	@[ -x "$${CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "chromium is missing: apt-get install chromium as root, or set CHROMIUM to a Chromium" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The README's pictures, taken by the browser test that checks them.
screenshots: $(STAMP) browser-deps
	EDGE_CONSENT_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser -k screenshots

# A bounded load through the local edge, from a second process.
load: $(STAMP)
	$(BIN)/python benchmarks/local_edge_load.py

# The Lambda runtime is Python 3.13: the core and the handlers' tests run there too.
$(STAMP_LAMBDA): requirements-dev.txt pyproject.toml
	rm -rf $(VENV_LAMBDA)
	$(PYTHON_LAMBDA) -m venv $(VENV_LAMBDA)
	$(VENV_LAMBDA)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(VENV_LAMBDA)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

test-lambda-python:
	@if $(PYTHON_LAMBDA) --version >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(STAMP_LAMBDA) && \
		$(VENV_LAMBDA)/bin/pytest tests/unit tests/functional -p no:cacheprovider; \
	else echo "$(PYTHON_LAMBDA) not found: skipping the run on the Lambda runtime's Python"; fi

# The template as AWS SAM reads it: its linter, then a full build of every function.
$(STAMP_SAM): requirements-sam.txt
	rm -rf $(VENV_SAM)
	$(PYTHON) -m venv $(VENV_SAM)
	$(VENV_SAM)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

sam-check: $(STAMP) $(STAMP_SAM)
	SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam validate --lint --region us-east-1
	SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam build --build-dir .aws-sam/build
	$(BIN)/pytest tests/infrastructure/test_sam_build.py

# Recompile the development config (development key) after editing the policy.
config: $(STAMP)
	$(BIN)/edge-consent policy compile policy/policy.yaml -o policy/config.dev.json

# Sample events carry consent cookies that expire: regenerate them.
events: $(STAMP)
	$(BIN)/edge-consent events --config policy/config.dev.json

bench: $(STAMP)
	$(BIN)/python benchmarks/edge_hot_path.py
	$(BIN)/python benchmarks/consent_endpoint.py

clean:
	rm -rf $(VENV) $(VENV_LAMBDA) $(VENV_SAM) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

# `sam build` (BuildMethod: makefile) calls these with ARTIFACTS_DIR. Lambda@Edge refuses
# layers, so each edge package carries the standard-library core beside its handler.
define edge_package
	mkdir -p "$(ARTIFACTS_DIR)/consent_core"
	cp functions/$(1)/app.py "$(ARTIFACTS_DIR)/"
	cp layers/consent_core/consent_core/*.py "$(ARTIFACTS_DIR)/consent_core/"
endef

build-ViewerRequestFunction:
	$(call edge_package,viewer_request)

build-ViewerResponseFunction:
	$(call edge_package,viewer_response)

build-OriginResponseFunction:
	$(call edge_package,origin_response)

# The consent endpoint: its package, the core, and its pinned dependencies as Lambda's
# Python 3.13 on x86_64 runs them (boto3 comes with the runtime).
build-ConsentApiFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	$(PYTHON) -c "import shutil, sys; shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True, \
		ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))" functions/consent_api "$(ARTIFACTS_DIR)/consent_api"
	mkdir -p "$(ARTIFACTS_DIR)/consent_core"
	cp layers/consent_core/consent_core/*.py "$(ARTIFACTS_DIR)/consent_core/"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.13 \
		--no-compile --target "$(ARTIFACTS_DIR)" -r functions/consent_api/requirements.txt

# The deploy-time config writer: its handler and the policy compiled without keys (the
# stack's secret provides them). Its layer brings the core.
build-EdgeConfigFunction: $(STAMP)
	mkdir -p "$(ARTIFACTS_DIR)"
	cp functions/edge_config/app.py "$(ARTIFACTS_DIR)/"
	$(BIN)/edge-consent policy compile policy/policy.yaml --without-keys -o "$(ARTIFACTS_DIR)/policy.json"

# The regional functions' layer: the core, powertools and pydantic for Lambda's Python 3.13.
build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python/consent_core"
	cp layers/consent_core/consent_core/*.py "$(ARTIFACTS_DIR)/python/consent_core/"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.13 \
		--no-compile --target "$(ARTIFACTS_DIR)/python" -r functions/consent_api/requirements.txt
