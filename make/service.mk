# Service targets: run the prediction service, regenerate its contract, test and benchmark it.
# Included by the top Makefile (`make help` lists them); `make -f make/service.mk TARGET` works on its own too.
#
#   make serve                     # local config: ./store is the bucket directory, keys from MODEL_KEYRING
#   make serve REST_CONFIG=configuration/docker_rest_config.yaml   # MinIO; MINIO_* from the environment
#
# Secrets only come from environment variables; these targets never print their values.

PYTHON ?= .venv/bin/python
REST_CONFIG ?= configuration/rest_config.yaml
SERVICE_HOST ?= 127.0.0.1
SERVICE_PORT ?= 8000
CONTRACT ?= service_contract.yaml
BENCH_SERVICE_ARGS ?=

.PHONY: serve
serve: ## Run the prediction service with uvicorn (REST_CONFIG, SERVICE_HOST, SERVICE_PORT)
	@test -f "$(REST_CONFIG)" || { echo "error: service configuration $(REST_CONFIG) not found"; exit 2; }
	REST_CONFIG=$(REST_CONFIG) $(PYTHON) -m uvicorn diabetes_risk_model.service.app:app \
		--host $(SERVICE_HOST) --port $(SERVICE_PORT) --workers 1

.PHONY: contract
contract: ## Regenerate service_contract.yaml from the running app's OpenAPI (loads the model like generate_openapi)
	$(PYTHON) -m diabetes_risk_model.service.contract --configuration_file $(REST_CONFIG) --output_file $(CONTRACT)

.PHONY: test-service
test-service: ## Service tests only: schemas, model, app, real-MinIO integration, contract
	$(PYTHON) -m pytest tests/service $(PYTEST_ARGS)

.PHONY: bench-service
bench-service: ## Load benchmark of the service vs the original predict() (BENCH_SERVICE_ARGS="--soak 120")
	$(PYTHON) benchmarks/bench_service.py $(BENCH_SERVICE_ARGS)
