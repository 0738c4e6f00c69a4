# The single entry point: `make test` sets everything up on a fresh machine.
PYTHON ?= python3
# pyenv installs keep 3.13 outside PATH; fall back to whatever `python3.13` is.
PYTHON_LAMBDA ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.13)
# Each environment's stamp is named for the contents of the files it is made from, so that it is
# made again when, and only when, they change (`make pins` rewrites files it leaves the same).
made_from = .installed-$(shell cat requirements/pip.txt $(1) | cksum | cut -d' ' -f1)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/$(call made_from,requirements/dev.txt pyproject.toml)
VENV_LAMBDA := .venv-3.13
STAMP_LAMBDA := $(VENV_LAMBDA)/$(call made_from,requirements/dev.txt pyproject.toml)

VENV_SAM := .venv-sam
STAMP_SAM := $(VENV_SAM)/$(call made_from,requirements/sam.txt)
VENV_PINS := .venv-pins
STAMP_PINS := $(VENV_PINS)/$(call made_from,requirements/pins.txt)

.PHONY: test lint fix suite unit test-lambda-python sam-check sam-local cost bench events config clean run browser-deps screenshots load report pins \
	build-ViewerRequestFunction build-ViewerResponseFunction build-OriginResponseFunction build-ConsentApiFunction \
	build-StaticResponseFunction build-EdgeConfigFunction build-SharedLayer

test: lint suite test-lambda-python sam-check

# A virtual environment from pinned requirements, each package checked against its hash, installed
# by the pinned pip. A folder make did not make (no .installed-* stamp in it) is never deleted: make
# says so and stops.
define venv
	@if [ -e $(1) ] && ! ls $(1)/.installed-* >/dev/null 2>&1; then \
		echo "$(1) exists and was not made by make: move it away or remove it" >&2; exit 1; fi
	rm -rf $(1)
	$(2) -m venv $(1)
	touch $(1)/.installed-incomplete
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/pip.txt
	$(1)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r $(3)
endef

# The development environment: the pinned tools, and this project installed in place (its own
# dependencies are in requirements/dev.txt, so the second install has no hash to check).
define dev_venv
	$(call venv,$(1),$(2),requirements/dev.txt)
	$(1)/bin/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
endef

$(STAMP):
	$(call dev_venv,$(VENV),$(PYTHON))
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml receipts.yaml

# What lint would refuse, mended where it can be (the pre-commit hook runs the same).
fix: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The tests that read `sam build`'s output: sam-check runs them right after a fresh build.
BUILT_TESTS := tests/infrastructure/test_sam_build.py tests/infrastructure/test_deployed_packages.py \
	tests/infrastructure/test_deploy_lifecycle.py tests/infrastructure/test_sam_local.py

# Every test but those, browser tests included, each property with its thorough budget.
suite: $(STAMP) browser-deps
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest $(addprefix --ignore=,$(BUILT_TESTS))

# The pure core and the handlers' units alone: seconds, no browser, no server. Each property
# draws a few examples (tests/conftest.py's quick profile); `make test` draws thousands.
unit: $(STAMP)
	HYPOTHESIS_PROFILE=quick $(BIN)/pytest tests/unit

# The local edge: template.yaml's distribution, the demo site, DynamoDB (moto). `make run PORT=9000`,
# `make run ARGS="--origin https://staging.example.fr"`.
PORT ?= 8080
run: $(STAMP)
	$(BIN)/edge-consent run --port $(PORT) $(ARGS)

# The real things the tests run instead of models: Debian's chromium and firefox-esr (Playwright and
# puppeteer-core drive them; no browser is ever downloaded), Debian's php-cli, and the pinned Node
# packages of tests/node (npm ci, from its package-lock.json). Installed here when missing.
browser-deps:
	@missing=; [ -x "$${CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1 || missing=" chromium"; \
	for tool in firefox-esr:firefox-esr php:php-cli node:nodejs npm:npm; do \
		command -v $${tool%%:*} >/dev/null 2>&1 || missing="$$missing $${tool#*:}"; done; \
	[ -z "$$missing" ] || { echo "Installing Debian's$$missing for the tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "missing:$$missing. apt-get install$$missing as root" >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; }
	@[ tests/node/node_modules/.package-lock.json -nt tests/node/package-lock.json ] || \
		(cd tests/node && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

# The README's pictures, taken by the browser test that checks them.
screenshots: $(STAMP) browser-deps
	EDGE_CONSENT_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser -k screenshots

# A bounded load through the local edge, from a second process.
load: $(STAMP)
	$(BIN)/python benchmarks/local_edge_load.py

# The Lambda runtime is Python 3.13: the core and the handlers' tests run there too.
$(STAMP_LAMBDA):
	$(call dev_venv,$(VENV_LAMBDA),$(PYTHON_LAMBDA))
	touch $@

test-lambda-python:
	@if $(PYTHON_LAMBDA) --version >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(STAMP_LAMBDA) && \
		HYPOTHESIS_PROFILE=thorough $(VENV_LAMBDA)/bin/pytest tests/unit tests/functional -p no:cacheprovider; \
	else echo "$(PYTHON_LAMBDA) not found: skipping the run on the Lambda runtime's Python"; fi

# The template as AWS SAM reads it: its linter (and the receipts table's), a full build of every
# function, then what `sam deploy` would upload, configured by the real custom resource through
# a stack's life (tests/infrastructure/test_deploy_lifecycle.py) and run as Lambda runs it.
$(STAMP_SAM):
	$(call venv,$(VENV_SAM),$(PYTHON),requirements/sam.txt)
	touch $@

sam-check: $(STAMP) $(STAMP_SAM)
	SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam validate --lint --region us-east-1
	SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam validate --lint --region eu-west-3 --template-file receipts.yaml
	SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam build --build-dir .aws-sam/build
	EDGE_CONSENT_REQUIRE_BUILD=1 $(BIN)/pytest $(BUILT_TESTS)

# `sam local invoke -e events/...`: the build, copied to .aws-sam/local with the development
# config (samconfig.toml points `sam local invoke` there; `sam deploy` never uploads it).
sam-local: $(STAMP) $(STAMP_SAM)
	SAM_CLI_TELEMETRY=0 $(VENV_SAM)/bin/sam build --build-dir .aws-sam/build
	$(BIN)/edge-consent sam-local

# Recompile the development config (development key) after editing the policy.
config: $(STAMP)
	$(BIN)/edge-consent policy compile policy/policy.yaml -o policy/config.dev.json

# Sample events carry consent cookies that expire: regenerate them.
events: $(STAMP)
	$(BIN)/edge-consent events --config policy/config.dev.json

# What a page view costs at the edge, before and after a change: Chromium through the local edge.
cost: $(STAMP) browser-deps
	$(BIN)/python benchmarks/page_view_cost.py

# The consent report of a few hundred visitors through the local edge (edge-consent report's page),
# and its picture in the docs.
report: $(STAMP) browser-deps
	$(BIN)/python -m edge_consent.local.visits --visitors 300 -o report.html --screenshot docs/screenshots/report.png

bench: $(STAMP)
	$(BIN)/python benchmarks/edge_hot_path.py
	$(BIN)/python benchmarks/consent_endpoint.py
	$(BIN)/python benchmarks/consent_cold_start.py
	$(BIN)/python benchmarks/receipt_latency.py

# Every requirements file above, compiled with hashes from requirements/*.in by uv (itself pinned,
# in requirements/pins.txt, and installed in .venv-pins): first every environment at once into
# constraints.txt, then each environment within it, so that a package has one version wherever it
# is installed. After editing a .in or pyproject.toml's dependencies, `make pins` keeps every other
# pin; `make pins UPGRADE=1` moves each to the newest version that every environment accepts.
PIN = $(VENV_PINS)/bin/uv pip compile --quiet --generate-hashes
# The environments made on any Python from 3.11 on: one file for all, one version per package.
ANY_PYTHON = --universal --python-version 3.11 --fork-strategy fewest
# The consent endpoint's package, as tools/sam_build.py installs it: Lambda's Python 3.13, x86_64, wheels.
LAMBDA_RUNTIME = --python-version 3.13 --python-platform x86_64-manylinux2014 --only-binary :all:
WITHIN = -c requirements/constraints.txt

$(STAMP_PINS):
	$(call venv,$(VENV_PINS),$(PYTHON),requirements/pins.txt)
	touch $@

pins: $(STAMP_PINS)
	$(PIN) $(if $(UPGRADE),--upgrade) $(ANY_PYTHON) requirements/constraints.in pyproject.toml --extra local \
		-o requirements/constraints.txt
	$(PIN) $(ANY_PYTHON) $(WITHIN) requirements/dev.in pyproject.toml --extra local -o requirements/dev.txt
	$(PIN) $(ANY_PYTHON) $(WITHIN) requirements/build.in -o requirements/build.txt
	$(PIN) $(ANY_PYTHON) $(WITHIN) requirements/sam.in -o requirements/sam.txt
	$(PIN) $(ANY_PYTHON) $(WITHIN) requirements/pins.in -o requirements/pins.txt
	$(PIN) $(ANY_PYTHON) $(WITHIN) requirements/pip.in -o requirements/pip.txt
	$(PIN) $(LAMBDA_RUNTIME) $(WITHIN) requirements/lambda.in -o requirements/lambda.txt

clean:
	rm -rf $(VENV) $(VENV_LAMBDA) $(VENV_SAM) $(VENV_PINS) .venv-build .venv-build.lock .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis

# `sam build` (BuildMethod: makefile) calls these with ARTIFACTS_DIR. Lambda@Edge refuses
# layers, so each edge package carries the standard-library core and its CloudFront adapter
# (consent_core, consent_edge) beside its handler, and the policy compiled without keys as
# its config (EdgeConfig adds the keys at deploy time).
# tools/sam_build.py compiles it in a small environment of its own (.venv-build), on any
# PYTHON of 3.11 or newer, and says so when PYTHON is older.
SAM_BUILD = PYTHON_LAMBDA="$(PYTHON_LAMBDA)" $(PYTHON) tools/sam_build.py
define core_and_config
	mkdir -p "$(ARTIFACTS_DIR)/consent_core" "$(ARTIFACTS_DIR)/consent_edge"
	cp layers/consent_core/consent_core/*.py "$(ARTIFACTS_DIR)/consent_core/"
	cp layers/consent_core/consent_edge/*.py "$(ARTIFACTS_DIR)/consent_edge/"
	$(SAM_BUILD) config "$(ARTIFACTS_DIR)/$(1)"
endef

define edge_package
	mkdir -p "$(ARTIFACTS_DIR)"
	cp functions/$(1)/app.py "$(ARTIFACTS_DIR)/"
	$(call core_and_config,config.json)
	$(SAM_BUILD) bytecode "$(ARTIFACTS_DIR)"
endef

build-ViewerRequestFunction:
	$(call edge_package,viewer_request)

build-ViewerResponseFunction:
	$(call edge_package,viewer_response)

build-OriginResponseFunction:
	$(call edge_package,origin_response)

# The static behaviours' origin-response: its handler alone (no core, no config).
build-StaticResponseFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp functions/static_response/app.py "$(ARTIFACTS_DIR)/"
	$(SAM_BUILD) bytecode "$(ARTIFACTS_DIR)"

# The consent endpoint: its package (the config beside its handler), the core, and its
# pinned dependencies as Lambda's Python 3.13 on x86_64 runs them (boto3 comes with the runtime).
build-ConsentApiFunction:
	mkdir -p "$(ARTIFACTS_DIR)/consent_api/static" "$(ARTIFACTS_DIR)/consent_api/templates"
	cp functions/consent_api/*.py "$(ARTIFACTS_DIR)/consent_api/"
	cp functions/consent_api/static/* "$(ARTIFACTS_DIR)/consent_api/static/"
	cp functions/consent_api/templates/* "$(ARTIFACTS_DIR)/consent_api/templates/"
	$(call core_and_config,consent_api/config.json)
	$(SAM_BUILD) requirements "$(ARTIFACTS_DIR)" requirements/lambda.txt
	$(SAM_BUILD) bytecode "$(ARTIFACTS_DIR)"

# The deploy-time config writer: its handler alone; its layer brings the core.
build-EdgeConfigFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp deploy/edge_config/app.py "$(ARTIFACTS_DIR)/"

# The config writer's layer: the core, standard library only.
build-SharedLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python/consent_core"
	cp layers/consent_core/consent_core/*.py "$(ARTIFACTS_DIR)/python/consent_core/"
