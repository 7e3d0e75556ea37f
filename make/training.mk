# Training targets: train the model (CLI or the notebook), sign and package it, upload it, test the training area.
# Included by the top Makefile (`make help` lists them); `make -f make/training.mk TARGET` works on its own too.
#
#   make train                       # full pipeline without Jupyter (python -m diabetes_risk_model.training)
#   make train TRAIN_ARGS="--fast --no-upload"
#   make reproduce                   # the full notebook, headless, then its compare/tune tables and wall time
#   make reproduce NOTEBOOK_ARGS="-p mode fast"
#   make notebook                    # JupyterLab on 127.0.0.1:$(NOTEBOOK_PORT) with the project's kernel
#
# Environment: DIABETES_DATA (the CSV; else data/... or Kaggle), MODEL_KEYRING (the signing keyring;
# unset: the development keyring $(KEYS_DIR)/signing_keyring.json that `make run`/`make keygen` made, if any),
# MINIO_URL, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE, MODEL_FILES_BUCKET (upload; without MINIO_URL
# `reproduce` skips the upload). Secrets are read by the code from the environment; these targets never print them.
# Each target checks everything it will need (data, key, store, notebook tools) before it starts: training's CLI
# itself, and training.preflight before papermill. A missing piece fails in seconds, never after training.

VENV ?= .venv
PYTHON ?= $(VENV)/bin/python
TRAIN_OUTPUT ?= output/training
TRAIN_ARGS ?=
NOTEBOOK ?= notebooks/diabetes_risk_model_training.ipynb
NOTEBOOK_OUTPUT ?= output/notebook
NOTEBOOK_ARGS ?=
NOTEBOOK_EXECUTED = $(NOTEBOOK_OUTPUT)/diabetes_risk_model_training.executed.ipynb
NOTEBOOK_PORT ?= 8888
NOTEBOOK_DIR ?= $(CURDIR)
# The project's kernel: ipykernel from the venv, registered under the venv (never in the user's home); the
# server looks in the venv first (JUPYTER_PATH), so a `python3` kernel in the home does not shadow the venv's.
KERNEL_NAME = diabetes-risk-model
KERNEL_SPEC = $(VENV)/share/jupyter/kernels/$(KERNEL_NAME)/kernel.json
# Jupyter refuses to run as root unless told; root is the usual user in a container.
# A kernel runs in its notebook's folder: a relative DIABETES_DATA, or the data/ CSV, is handed over absolute.
NOTEBOOK_DATA = $(if $(DIABETES_DATA),$(abspath $(DIABETES_DATA)),$(abspath $(wildcard data/diabetes_binary_5050split_health_indicators_BRFSS2015.csv)))
KEYS_DIR ?= .keys
DEV_KEYRING = $(KEYS_DIR)/signing_keyring.json
# MODEL_KEYRING=<the development keyring> when the environment names no signing key and `make run` made one.
SIGNING_ENV = $(if $(MODEL_KEYRING),,$(if $(wildcard $(DEV_KEYRING)),MODEL_KEYRING=$(abspath $(DEV_KEYRING))))
PREFLIGHT = $(SIGNING_ENV) PYTHONPATH=$(CURDIR) $(PYTHON) -m diabetes_risk_model.training.preflight

.PHONY: train
train: ## Train, sign, package and upload without Jupyter (TRAIN_ARGS="--fast --no-upload", TRAIN_OUTPUT)
	$(SIGNING_ENV) MPLBACKEND=Agg PYTHONPATH=. $(PYTHON) -m diabetes_risk_model.training --output $(TRAIN_OUTPUT) $(TRAIN_ARGS)

.PHONY: train-fast
train-fast: ## Fast CI-mode training into TRAIN_OUTPUT, packaged but not uploaded (a few minutes)
	$(SIGNING_ENV) MPLBACKEND=Agg PYTHONPATH=. $(PYTHON) -m diabetes_risk_model.training --fast --no-upload --output $(TRAIN_OUTPUT)

.PHONY: reproduce
reproduce: ## Run the full notebook headless (papermill) on the real data, render it as HTML; print tables and wall time
	@$(PREFLIGHT) --notebook $(NOTEBOOK) $(if $(MINIO_URL),,--no-upload)
	@mkdir -p $(NOTEBOOK_OUTPUT)
	@start=$$(date +%s) && \
	$(SIGNING_ENV) MPLBACKEND=Agg PYTHONPATH=$(CURDIR) $(PYTHON) -m papermill $(NOTEBOOK) $(NOTEBOOK_EXECUTED) \
		--cwd $(CURDIR) -p output_dir $(NOTEBOOK_OUTPUT) \
		$(if $(MINIO_URL),,-p upload False) $(NOTEBOOK_ARGS) --log-output --no-progress-bar && \
	end=$$(date +%s) && \
	echo "executed notebook: $(NOTEBOOK_EXECUTED)" && \
	PYTHONPATH=. $(PYTHON) -m diabetes_risk_model.training.html $(NOTEBOOK_EXECUTED) && \
	PYTHONPATH=. $(PYTHON) -m diabetes_risk_model.training.summary $(NOTEBOOK_OUTPUT)/artifacts/metrics.json \
		--wall-time $$((end - start))

$(KERNEL_SPEC):
	@$(realpath $(VENV))/bin/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Python 3 (diabetes-risk-model)" >/dev/null
	@echo "registered the kernel $(KERNEL_NAME) ($(PYTHON)) in $(dir $(KERNEL_SPEC))"

.PHONY: notebook
notebook: $(KERNEL_SPEC) ## JupyterLab on 127.0.0.1:NOTEBOOK_PORT (default 8888) with the project's kernel; prints the URL
	@token=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(24))') && \
	echo "JupyterLab: http://127.0.0.1:$(NOTEBOOK_PORT)/lab?token=$$token  (kernel $(KERNEL_NAME); Ctrl-C stops it)" && \
	$(SIGNING_ENV) $(if $(NOTEBOOK_DATA),DIABETES_DATA=$(NOTEBOOK_DATA)) PYTHONPATH=$(CURDIR) JUPYTER_TOKEN=$$token \
	JUPYTER_PATH=$(abspath $(VENV))/share/jupyter \
	exec $(PYTHON) -m jupyterlab --no-browser --ip=127.0.0.1 --port=$(NOTEBOOK_PORT) --ServerApp.port_retries=0 \
		--ServerApp.root_dir=$(NOTEBOOK_DIR) --MappingKernelManager.default_kernel_name=$(KERNEL_NAME) \
		$(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: test-training
test-training: ## Training tests only: data, renames, metrics, packaging, and the fast notebook against real MinIO
	$(PYTHON) -m pytest tests/training $(PYTEST_ARGS)
