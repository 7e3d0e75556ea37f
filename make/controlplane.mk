# A real Kubernetes cluster for tests/kube: etcd 3.4.23 from Debian; kube-apiserver, kube-controller-manager,
# kube-scheduler, the kubelet and kubectl v1.33.13 built with Go (scripts/build_control_plane.sh); containerd, runc
# and the CNI plugins from Debian, CoreDNS and mc built with Go (scripts/build_node.sh). Cached in $(DRM_TOOLS).
# Included by the top Makefile.

.PHONY: control-plane
control-plane: ## Build the pinned Kubernetes control plane and node tests/kube start (cached outside the repo)
	@bash scripts/build_control_plane.sh
	@bash scripts/build_node.sh

.PHONY: test-image
test-image: ## Build the service image tests/kube/test_image.py runs (rootful podman; kept while its inputs are unchanged)
	@bash scripts/build_image.sh

# tests/kube starts the cluster (tests/kube/conftest.py) and runs the image, so `make test` builds both first
# when the whole suite or tests/kube is selected (not for `make test PYTEST_ARGS=tests/signing`).
test: $(if $(or $(if $(TEST_PATHS),,all),$(filter tests tests/ tests/kube%,$(TEST_PATHS))),control-plane test-image)
