# Every step an operator or developer runs. `make help` lists them.
# Area-specific targets live in make/*.mk (training, service, kube) and are included below.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        ?= .venv
PYTHON      := $(VENV)/bin/python
PIP         := $(PYTHON) -m pip
BOOTSTRAP_PYTHON ?= python3.11
DRM_TOOLS   ?= $(HOME)/.cache/drm-tools
MINIO_BIN   ?= $(DRM_TOOLS)/bin/minio
# The training CSV. Left unset, training uses data/diabetes_binary_5050split_health_indicators_BRFSS2015.csv if it
# exists, else downloads it from Kaggle when credentials are configured (diabetes_risk_model/training/data.py).
DIABETES_DATA ?=
KEYS_DIR    ?= .keys
PYTEST_ARGS ?=
LOCK_ARGS   ?=
export DRM_TOOLS MINIO_BIN DIABETES_DATA

INSTALL_STAMP := $(VENV)/.installed

.PHONY: help
help: ## List every target with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# -- environment -----------------------------------------------------------------------------

$(INSTALL_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(BOOTSTRAP_PYTHON) >/dev/null || { echo "error: $(BOOTSTRAP_PYTHON) not found (pycaret 3.3.2 needs Python 3.11)"; exit 1; }
	@echo "+ $(BOOTSTRAP_PYTHON) -m venv $(VENV) && pip install --require-hashes --no-deps -r requirements.txt -r requirements-dev.txt"
	@test -x $(PYTHON) || $(BOOTSTRAP_PYTHON) -m venv $(VENV)
	@# Exactly the locked files, each checked against its sha256; --no-deps because the locks are complete.
	@$(PIP) install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.txt -r requirements-dev.txt
	@$(PIP) check
	@# The project itself is this checkout, not a published file, so it has no hash: it brings no dependency
	@# (--no-deps) and is built with the locked setuptools already installed (--no-build-isolation).
	@$(PIP) install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

.PHONY: install
install: $(INSTALL_STAMP) ## Create .venv and install the pinned packages (training, service, tests)

.PHONY: lock
lock: ## Re-lock requirements*.txt with hashes from the *.in files, keeping pinned versions (needs PyPI)
	PYTHON=$(BOOTSTRAP_PYTHON) DRM_TOOLS=$(DRM_TOOLS) bash scripts/lock.sh $(LOCK_ARGS)

.PHONY: minio
minio: ## Build the pinned MinIO server from source with go install (cached outside the repo)
	@bash scripts/build_minio.sh

.PHONY: deploy-tools
deploy-tools: ## Build kubeconform and helm with go install and fetch offline schemas (cached)
	@bash scripts/install_deploy_tools.sh

# -- the main job ------------------------------------------------------------------------------

# MinIO is built for `make run` only when it can be: a binary already at MINIO_BIN, or Go on PATH. Otherwise (or
# with MINIO_URL set) nothing is built and run_local.py serves from the local directory store (or MINIO_URL).
# The build runs in the background while the venv installs and the model trains (scripts/make_run.sh).
.PHONY: run
run: ## End to end: key, fast training, sign, package, publish, serve, one prediction
	@MAKE="$(MAKE)" PYTHON=$(PYTHON) KEYS_DIR=$(KEYS_DIR) bash scripts/make_run.sh

.PHONY: stop
stop: ## Stop the service and MinIO that `make run` started
	@if [ -f .run/pids ]; then while read -r pid; do kill "$$pid" 2>/dev/null && echo "stopped $$pid" || true; done < .run/pids; rm -f .run/pids; else echo "nothing to stop"; fi

.PHONY: keygen
keygen: install ## Generate a development ECDSA P-256 signing keyring in .keys/ (git-ignored)
	@$(PYTHON) scripts/run_local.py --keys-dir $(KEYS_DIR) --only-keys

.PHONY: verify
verify: install ## Verify a package: make verify PACKAGE=path/to.zip (keys from the environment)
	@test -n "$${PACKAGE:-}" || { echo "error: set PACKAGE=path/to/package.zip"; exit 2; }
	$(PYTHON) -m diabetes_risk_model verify "$$PACKAGE"

# -- checks ------------------------------------------------------------------------------------

# `make test` builds only the tools the selected tests use: MinIO for every directory but tests/signing,
# tests/unpickling and tests/cli (and the repository-wide tests/test_*.py), the deployment tools for tests/deploy. No path in PYTEST_ARGS: the whole suite.
TEST_PATHS      = $(filter tests%,$(PYTEST_ARGS))
TEST_NO_MINIO   = tests/signing% tests/unpickling% tests/cli% tests/test_hygiene.py% tests/test_make_run.py%
TEST_TOOLS      = $(if $(TEST_PATHS),$(if $(filter-out $(TEST_NO_MINIO),$(TEST_PATHS)),minio) \
                  $(if $(filter tests tests/ tests/deploy%,$(TEST_PATHS)),deploy-tools),minio deploy-tools)

.PHONY: test
test: install $(TEST_TOOLS) ## Run the suite (PYTEST_ARGS="tests/signing -x" for a part; builds only the tools it needs)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff on our package, tests, benchmarks and scripts
	$(PYTHON) -m ruff check diabetes_risk_model tests benchmarks scripts

.PHONY: typecheck
typecheck: install ## mypy on our package
	$(PYTHON) -m mypy

.PHONY: security
security: install ## bandit (medium+ severity) on our package; pickle use is reviewed by hand in unpickling/_unpickler.py
	$(PYTHON) -m bandit -q -r diabetes_risk_model -c pyproject.toml --severity-level medium

.PHONY: check
check: lint typecheck security test ## Everything CI runs

FUZZ_CASES ?= 100000
.PHONY: fuzz
fuzz: install ## Fuzz the restricted loader with FUZZ_CASES mutants of a real pipeline (counts, slowest case, peak memory)
	@test -n "$(NOTEBOOK_DATA)" || { echo "error: set DIABETES_DATA to the training CSV (or put it in data/)" >&2; exit 2; }
	$(PYTHON) -m tests.support.fuzz --cases $(FUZZ_CASES) --data "$(NOTEBOOK_DATA)"

.PHONY: bench
bench: install ## Run the benchmarks (verification throughput, service load)
	$(PYTHON) benchmarks/bench_verify.py
	$(PYTHON) benchmarks/bench_service.py

.PHONY: clean
clean: ## Remove build outputs and local runs (keeps .venv, .keys and the tool cache)
	rm -rf artifacts .run .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info

-include make/*.mk
