# Training targets: train the model (CLI or the notebook), sign and package it, upload it, test the training area.
# Included by the top Makefile (`make help` lists them); `make -f make/training.mk TARGET` works on its own too.
#
#   make train                       # full pipeline without Jupyter (python -m diabetes_risk_model.training)
#   make train TRAIN_ARGS="--fast --no-upload"
#   make reproduce                   # the full notebook, headless, then its compare/tune tables and wall time
#   make reproduce NOTEBOOK_ARGS="-p mode fast"
#
# Environment: DIABETES_DATA (the CSV; else data/... or Kaggle), MODEL_KEYRING (the signing keyring;
# unset: the development keyring $(KEYS_DIR)/signing_keyring.json that `make run`/`make keygen` made, if any),
# MINIO_URL, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE, MODEL_FILES_BUCKET (upload; without MINIO_URL
# `reproduce` skips the upload). Secrets are read by the code from the environment; these targets never print them.
# Each target checks everything it will need (data, key, store, notebook tools) before it starts: training's CLI
# itself, and training.preflight before papermill. A missing piece fails in seconds, never after training.

PYTHON ?= .venv/bin/python
TRAIN_OUTPUT ?= output/training
TRAIN_ARGS ?=
NOTEBOOK ?= notebooks/diabetes_risk_model_training.ipynb
NOTEBOOK_OUTPUT ?= output/notebook
NOTEBOOK_ARGS ?=
NOTEBOOK_EXECUTED = $(NOTEBOOK_OUTPUT)/diabetes_risk_model_training.executed.ipynb
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
reproduce: ## Run the full notebook headless (papermill) on the real data; print compare/tune tables and wall time
	@$(PREFLIGHT) --notebook $(NOTEBOOK) $(if $(MINIO_URL),,--no-upload)
	@mkdir -p $(NOTEBOOK_OUTPUT)
	@start=$$(date +%s) && \
	$(SIGNING_ENV) MPLBACKEND=Agg PYTHONPATH=$(CURDIR) $(PYTHON) -m papermill $(NOTEBOOK) $(NOTEBOOK_EXECUTED) \
		--cwd $(CURDIR) -p output_dir $(NOTEBOOK_OUTPUT) \
		$(if $(MINIO_URL),,-p upload False) $(NOTEBOOK_ARGS) --log-output --no-progress-bar && \
	end=$$(date +%s) && \
	echo "executed notebook: $(NOTEBOOK_EXECUTED)" && \
	PYTHONPATH=. $(PYTHON) -m diabetes_risk_model.training.summary $(NOTEBOOK_OUTPUT)/artifacts/metrics.json \
		--wall-time $$((end - start))

.PHONY: test-training
test-training: ## Training tests only: data, renames, metrics, packaging, and the fast notebook against real MinIO
	$(PYTHON) -m pytest tests/training $(PYTEST_ARGS)
