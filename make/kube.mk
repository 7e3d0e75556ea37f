# Deployment targets: the operator's session, one step per target (see docs/operators.md).
#
#   make build-image kube-namespace kube-secrets kube-minio kube-upload kube-config kube-deploy PACKAGE=...
#
# Every target prints the commands it runs. A missing tool, variable or file stops the target before it runs
# anything, with one line naming what is missing. Secrets come from environment variables only; the commands
# printed name the variables, never their values.
#
# Included by the top Makefile; `make -f make/kube.mk TARGET` works on its own too.

PYTHON ?= .venv/bin/python
DOCKER ?= docker
KUBECTL ?= kubectl
HELM ?= helm

KUBE_NAMESPACE ?= model-services
IMAGE_NAME ?= diabetes_risk_model_service
IMAGE_VERSION ?= $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' diabetes_risk_model/__init__.py)
IMAGE ?= $(IMAGE_NAME):$(IMAGE_VERSION)
SERVICE_DEPLOYMENT ?= diabetes-risk-model-service
SERVICE_CONFIGMAP ?= model-service-config
SERVICE_SECRET ?= model-service-secrets
SERVICE_CONFIG_FILE ?= configuration/kubernetes_rest_config.yaml
# The read-only MinIO user the chart creates for the service (users[0].accessKey in minio_values.yaml).
MINIO_SERVICE_USER ?= model-service
MINIO_RELEASE ?= minio
MINIO_ROOT_SECRET ?= minio-root-credentials
MINIO_VALUES ?= kubernetes/minio_values.yaml
# A second values file given after MINIO_VALUES, e.g. the image names of a mirror where quay.io is unreachable.
MINIO_EXTRA_VALUES ?=
DRM_TOOLS ?= $(HOME)/.cache/drm-tools
# A chart directory (default: the one scripts/install_deploy_tools.sh unpacks) or a repo reference (minio/minio).
MINIO_CHART ?= $(DRM_TOOLS)/charts/minio
MINIO_LOCAL_PORT ?= 9000
MODEL_FILES_BUCKET ?= model-files
# Where the service finds MinIO inside the cluster: the chart's Service <release>.<namespace>, port 9000.
KUBE_MINIO_URL ?= $(MINIO_RELEASE).$(KUBE_NAMESPACE).svc.cluster.local:9000
KUBE_MINIO_SECURE ?= false
KUBE_ROLLOUT_TIMEOUT ?= 10m

# $(call kube_need_tool,TOOL): stop with one line unless TOOL is on PATH.
kube_need_tool = $(if $(shell command -v $(1) 2>/dev/null),,$(error $@: '$(1)' is not installed or not on PATH))
# $(call kube_need_var,NAME,WHY): stop with one line unless the environment variable NAME is set and not empty.
kube_need_var = $(if $(strip $($(1))),,$(error $@: environment variable $(1) is not set ($(2))))
# $(kube_need_api): a recipe line that stops with one line unless the current kubeconfig's API server answers.
# It runs after the local checks (so a refused package or keyring never touches the cluster) and before the first
# command that would: against an unreachable server a target stops within seconds and changes nothing.
kube_api_check = $(KUBECTL) get --raw /readyz --request-timeout=5s >/dev/null 2>&1 || { echo "$@: the Kubernetes API server of the current kubeconfig context is unreachable" >&2; exit 1; }
kube_need_api = @$(kube_api_check)
# $(call kube_need_file,PATH,WHY): stop with one line unless PATH is an existing file.
kube_need_file = $(if $(wildcard $(1)),,$(error $@: $(1) not found ($(2))))
# $(call kube_outside_repo,PATH,NAME): stop with one line if PATH lies inside this repository.
kube_outside_repo = $(if $(filter $(abspath $(CURDIR))/%,$(realpath $(1))),$(error $@: $(2) points inside the repository; keep key material outside it))

# kube-secrets' guard: the service gets verification keys only, so a keyring holding anything that can sign is
# refused: private keys (write the public view with: python -m diabetes_risk_model public --keyring K
# --output P); a keyring entry that is not an ECDSA key (an HMAC key of earlier builds) does not even load.
define KUBE_CHECK_KEYRING_PY
import sys
from pathlib import Path
from diabetes_risk_model.errors import DiabetesRiskModelError
from diabetes_risk_model.signing import Keyring
try:
    ring = Keyring.load(Path(sys.argv[1]))
except DiabetesRiskModelError as exc:
    sys.exit(f"kube-secrets: MODEL_PUBLIC_KEYRING: {exc}")
if not len(ring):
    sys.exit("kube-secrets: MODEL_PUBLIC_KEYRING holds no key")
private = [key.key_id for key in ring.keys if key.private is not None]
if private:
    sys.exit("kube-secrets: MODEL_PUBLIC_KEYRING holds private keys (" + ", ".join(private) + "); "
             "give the service its public view: python -m diabetes_risk_model public --keyring K --output P")
print(f"kube-secrets: verification keyring with {len(ring)} key(s): " + ", ".join(k.key_id for k in ring.keys))
endef
export KUBE_CHECK_KEYRING_PY

# kube-upload's and kube-config's first step: verify PACKAGE with the public keyring, exactly as the service will
# (signature, members, limits), and print its pin as shell assignments for the recipe to `eval`:
#   MODEL_OBJECT  MODEL_PACKAGE_SHA256  MODEL_MIN_SEQUENCE  MODEL_PARAMETERS_VERSION
# (every value checked against a strict pattern, so the eval runs nothing else). A refusal is one line naming the
# target, PACKAGE and the reason. argv: target, package, keyring, wanted parameters version (may be empty),
# "serve" when the package must be one this service version loads (kube-config).
define KUBE_PIN_PY
import re, sys
from pathlib import Path
import diabetes_risk_model
from diabetes_risk_model.errors import DiabetesRiskModelError
from diabetes_risk_model.signing import Keyring, package_file_name, verify_package
from diabetes_risk_model.files import sha256_file
target, package, keyring_path, wanted, purpose = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5]
try:
    keyring = Keyring.load(keyring_path).public()
except DiabetesRiskModelError as exc:
    sys.exit(f"{target}: MODEL_PUBLIC_KEYRING: {exc}")
try:
    before = sha256_file(package)
    manifest = verify_package(package, keyring, capture_model=False).manifest
    after = sha256_file(package)
except DiabetesRiskModelError as exc:
    sys.exit(f"{target}: PACKAGE {package} refused: {type(exc).__name__}: {exc}")
if before != after:
    sys.exit(f"{target}: PACKAGE {package} changed while it was verified; run again")
served = (diabetes_risk_model.__name__, diabetes_risk_model.__version__)
if purpose == "serve" and (manifest.name, manifest.version) != served:
    sys.exit(f"{target}: PACKAGE {package} is {manifest.name} {manifest.version}; this service loads {served[0]} {served[1]}")
if wanted and wanted != manifest.parameters_version:
    sys.exit(f"{target}: MODEL_PARAMETERS_VERSION is {wanted} but PACKAGE {package} is {manifest.parameters_version}")
pin = {
    "MODEL_OBJECT": package_file_name(manifest.name, manifest.version, manifest.parameters_version),
    "MODEL_PACKAGE_SHA256": after,
    "MODEL_MIN_SEQUENCE": str(manifest.sequence),
    "MODEL_PARAMETERS_VERSION": manifest.parameters_version,
}
for name, value in pin.items():
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
        sys.exit(f"{target}: PACKAGE {package} has an unusable {name}: {value!r}")
    print(f"{name}={value}")
endef
export KUBE_PIN_PY

# kube-minio's and kube-deploy's check of the nodes (`kubectl get nodes -o json` on stdin): at least one node is
# Ready, and, for kube-deploy, an image named without a registry (IMAGE's default, built by `make build-image`)
# is on a Ready node already: nothing could pull it. argv: target, image (may be empty).
define KUBE_NODES_PY
import json, sys
target, image = sys.argv[1], sys.argv[2]
nodes = json.load(sys.stdin)["items"]
ready = [n for n in nodes if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))]
if not ready:
    sys.exit(f"{target}: no node of the cluster is Ready (kubectl get nodes)")
first = image.split("/")[0]
local = "/" not in image or not ("." in first or ":" in first or first == "localhost")
if image and local:
    names = {"docker.io/library/" + image if "/" not in image else "docker.io/" + image, image}
    if not any(names & set(name for i in n["status"].get("images", []) for name in i.get("names", [])) for n in ready):
        sys.exit(f"{target}: image {image} is on no Ready node and has no registry to pull it from; "
                 "load it into the nodes' container runtime (make build-image, then import it)")
endef
export KUBE_NODES_PY
kube_need_nodes = @$(KUBECTL) get nodes -o json --request-timeout=10s | $(PYTHON) -c "$$KUBE_NODES_PY" $@ "$(1)"

# kube-config's guard against rollback: the deployed ConfigMap's MODEL_MIN_SEQUENCE (stdin, may be empty) is the
# floor; a PACKAGE with a lower sequence is refused unless ALLOW_ROLLBACK=1. argv: the package's sequence, allow.
define KUBE_ROLLBACK_PY
import sys
current, sequence, allow = sys.stdin.read().strip(), int(sys.argv[1]), sys.argv[2] == "1"
if current and sequence < int(current) and not allow:
    sys.exit(f"kube-config: PACKAGE has sequence {sequence}, below the deployed minimum {current} "
             "(rollback refused; ALLOW_ROLLBACK=1 lowers the minimum)")
endef
export KUBE_ROLLBACK_PY
ALLOW_ROLLBACK ?=

# kube-upload's Python: wait for the port-forward, check the file still has the verified digest, upload it with the
# storage API (which makes the bucket) under the name the service fetches, and print the pin the service needs.
# Credentials travel in the environment, never on a command line.
define KUBE_UPLOAD_PY
import os, pathlib, socket, sys, time
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.storage import open_store
port, bucket, package = int(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
name, digest, sequence = os.environ["MODEL_OBJECT"], os.environ["MODEL_PACKAGE_SHA256"], os.environ["MODEL_MIN_SEQUENCE"]
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"kube-upload: the port-forward to MinIO on 127.0.0.1:{port} did not open")
        time.sleep(0.5)
if sha256_file(package) != digest:
    sys.exit(f"kube-upload: PACKAGE {package} changed after it was verified; run again")
store = open_store(f"127.0.0.1:{port}", bucket, os.environ["MINIO_ACCESS_KEY"], os.environ["MINIO_SECRET_KEY"])
store.upload(package, name)
print(f"published {name} sequence={sequence} sha256={digest}")
endef
export KUBE_UPLOAD_PY

.PHONY: build-image kube-namespace kube-secrets kube-minio kube-upload kube-config kube-deploy kube-status kube-delete

build-image: ## Build the service image diabetes_risk_model_service:<package version> (Dockerfile)
	$(call kube_need_tool,$(DOCKER))
	$(call kube_need_file,service_requirements.txt,the pinned service requirements the image installs)
	$(DOCKER) build --build-arg BUILD_DATE=$$(date -u +%Y-%m-%dT%H:%M:%SZ) --build-arg VERSION=$(IMAGE_VERSION) \
		--build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) -t $(IMAGE) .

kube-namespace: ## Create the model-services namespace
	$(call kube_need_tool,$(KUBECTL))
	$(kube_need_api)
	$(KUBECTL) apply -f kubernetes/namespace.yaml

kube-secrets: ## Create/update the Secrets from MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, MINIO_SECRET_KEY, MODEL_PUBLIC_KEYRING (env)
	$(call kube_need_tool,$(KUBECTL))
	$(call kube_need_var,MINIO_ROOT_USER,MinIO administrator name)
	$(call kube_need_var,MINIO_ROOT_PASSWORD,MinIO administrator password; 8 characters or more)
	$(call kube_need_var,MINIO_SECRET_KEY,password of the service's read-only MinIO user; 8 characters or more)
	$(call kube_need_var,MODEL_PUBLIC_KEYRING,path of the public keyring file the service verifies with)
	$(call kube_need_file,$(MODEL_PUBLIC_KEYRING),MODEL_PUBLIC_KEYRING)
	$(call kube_outside_repo,$(MODEL_PUBLIC_KEYRING),MODEL_PUBLIC_KEYRING)
	$(call kube_need_file,$(PYTHON),the project's Python; set PYTHON=...)
	$(PYTHON) -c "$$KUBE_CHECK_KEYRING_PY" "$$MODEL_PUBLIC_KEYRING"
	$(kube_need_api)
	$(KUBECTL) create secret generic $(MINIO_ROOT_SECRET) --namespace $(KUBE_NAMESPACE) \
		--from-literal=rootUser="$$MINIO_ROOT_USER" --from-literal=rootPassword="$$MINIO_ROOT_PASSWORD" \
		--dry-run=client -o yaml | $(KUBECTL) apply --server-side --force-conflicts -f -
	$(KUBECTL) create secret generic $(SERVICE_SECRET) --namespace $(KUBE_NAMESPACE) \
		--from-literal=MINIO_ACCESS_KEY=$(MINIO_SERVICE_USER) --from-literal=MINIO_SECRET_KEY="$$MINIO_SECRET_KEY" \
		--from-file=keyring.json="$$MODEL_PUBLIC_KEYRING" \
		--dry-run=client -o yaml | $(KUBECTL) apply --server-side --force-conflicts -f -

kube-minio: ## Install/upgrade MinIO with its Helm chart and kubernetes/minio_values.yaml (after kube-secrets)
	$(call kube_need_tool,$(HELM))
	$(call kube_need_tool,$(KUBECTL))
	$(if $(filter /% ./% ../%,$(MINIO_CHART)),$(call kube_need_file,$(MINIO_CHART)/Chart.yaml,run: bash scripts/install_deploy_tools.sh))
	$(call kube_need_file,$(PYTHON),the project's Python; set PYTHON=...)
	$(kube_need_api)
	$(call kube_need_nodes,)
	$(HELM) upgrade --install $(MINIO_RELEASE) $(MINIO_CHART) --namespace $(KUBE_NAMESPACE) \
		--values $(MINIO_VALUES) $(if $(MINIO_EXTRA_VALUES),--values $(MINIO_EXTRA_VALUES)) \
		--wait --wait-for-jobs --timeout $(KUBE_ROLLOUT_TIMEOUT)

kube-upload: ## Verify PACKAGE (a signed model zip) with MODEL_PUBLIC_KEYRING and upload it to MinIO (temporary port-forward)
	$(call kube_need_tool,$(KUBECTL))
	$(call kube_need_var,PACKAGE,the signed package zip to upload)
	$(call kube_need_file,$(PACKAGE),PACKAGE)
	$(call kube_need_var,MODEL_PUBLIC_KEYRING,path of the public keyring the package must verify with)
	$(call kube_need_file,$(MODEL_PUBLIC_KEYRING),MODEL_PUBLIC_KEYRING)
	$(call kube_need_var,MINIO_ROOT_USER,MinIO administrator name)
	$(call kube_need_var,MINIO_ROOT_PASSWORD,MinIO administrator password)
	$(call kube_need_file,$(PYTHON),the project's Python; set PYTHON=...)
	pin="$$($(PYTHON) -c "$$KUBE_PIN_PY" kube-upload "$(PACKAGE)" "$(MODEL_PUBLIC_KEYRING)" "" publish)" || exit 1; \
	set -a; eval "$$pin"; set +a; \
	$(kube_api_check); \
	$(KUBECTL) port-forward --namespace $(KUBE_NAMESPACE) svc/$(MINIO_RELEASE) $(MINIO_LOCAL_PORT):9000 >/dev/null & \
	pf=$$!; trap 'kill $$pf 2>/dev/null' EXIT; \
	MINIO_ACCESS_KEY="$$MINIO_ROOT_USER" MINIO_SECRET_KEY="$$MINIO_ROOT_PASSWORD" \
	$(PYTHON) -c "$$KUBE_UPLOAD_PY" $(MINIO_LOCAL_PORT) $(MODEL_FILES_BUCKET) "$(PACKAGE)"

kube-config: ## Create/update the service's ConfigMap from PACKAGE: config file, parameters version, sha256 and sequence pin
	$(call kube_need_tool,$(KUBECTL))
	$(call kube_need_var,PACKAGE,the signed package zip to serve; the one given to kube-upload)
	$(call kube_need_file,$(PACKAGE),PACKAGE)
	$(call kube_need_var,MODEL_PUBLIC_KEYRING,path of the public keyring the package must verify with)
	$(call kube_need_file,$(MODEL_PUBLIC_KEYRING),MODEL_PUBLIC_KEYRING)
	$(call kube_need_file,$(SERVICE_CONFIG_FILE),the service configuration for Kubernetes)
	$(call kube_need_file,$(PYTHON),the project's Python; set PYTHON=...)
	pin="$$($(PYTHON) -c "$$KUBE_PIN_PY" kube-config "$(PACKAGE)" "$(MODEL_PUBLIC_KEYRING)" "$(MODEL_PARAMETERS_VERSION)" serve)" || exit 1; \
	set -a; eval "$$pin"; set +a; \
	$(kube_api_check); \
	$(KUBECTL) get configmap $(SERVICE_CONFIGMAP) --namespace $(KUBE_NAMESPACE) --ignore-not-found \
		-o jsonpath='{.data.MODEL_MIN_SEQUENCE}' | $(PYTHON) -c "$$KUBE_ROLLBACK_PY" "$$MODEL_MIN_SEQUENCE" "$(ALLOW_ROLLBACK)" || exit 1; \
	echo "kube-config: serving $$MODEL_OBJECT sequence=$$MODEL_MIN_SEQUENCE sha256=$$MODEL_PACKAGE_SHA256"; \
	$(KUBECTL) create configmap $(SERVICE_CONFIGMAP) --namespace $(KUBE_NAMESPACE) \
		--from-file=$(notdir $(SERVICE_CONFIG_FILE))=$(SERVICE_CONFIG_FILE) \
		--from-literal=MINIO_URL=$(KUBE_MINIO_URL) --from-literal=MINIO_SECURE=$(KUBE_MINIO_SECURE) \
		--from-literal=MODEL_PARAMETERS_VERSION="$$MODEL_PARAMETERS_VERSION" \
		--from-literal=MODEL_PACKAGE_SHA256="$$MODEL_PACKAGE_SHA256" \
		--from-literal=MODEL_MIN_SEQUENCE="$$MODEL_MIN_SEQUENCE" \
		--dry-run=client -o yaml | $(KUBECTL) apply -f -

kube-deploy: ## Apply the service's Deployment and Service and wait until it is ready
	$(call kube_need_tool,$(KUBECTL))
	$(call kube_need_file,$(PYTHON),the project's Python; set PYTHON=...)
	$(kube_need_api)
	$(call kube_need_nodes,$(IMAGE))
	$(KUBECTL) apply -f kubernetes/model_service.yaml
	$(KUBECTL) rollout status deployment/$(SERVICE_DEPLOYMENT) --namespace $(KUBE_NAMESPACE) --timeout $(KUBE_ROLLOUT_TIMEOUT)

kube-status: ## Show the deployments, pods, services, volumes and recent events in model-services
	$(call kube_need_tool,$(KUBECTL))
	$(kube_need_api)
	$(KUBECTL) get deployments,statefulsets,pods,services,pvc,configmaps,secrets --namespace $(KUBE_NAMESPACE)
	$(KUBECTL) get events --namespace $(KUBE_NAMESPACE) --sort-by=.lastTimestamp

kube-delete: ## Remove the service, MinIO (and its volumes), the ConfigMap, the Secrets and the namespace
	$(call kube_need_tool,$(KUBECTL))
	$(call kube_need_tool,$(HELM))
	$(kube_need_api)
	$(KUBECTL) delete -f kubernetes/model_service.yaml --ignore-not-found
	$(HELM) uninstall $(MINIO_RELEASE) --namespace $(KUBE_NAMESPACE) --ignore-not-found
	$(KUBECTL) delete configmap $(SERVICE_CONFIGMAP) --namespace $(KUBE_NAMESPACE) --ignore-not-found
	$(KUBECTL) delete secret $(SERVICE_SECRET) $(MINIO_ROOT_SECRET) --namespace $(KUBE_NAMESPACE) --ignore-not-found
	$(KUBECTL) delete -f kubernetes/namespace.yaml --ignore-not-found
