# A real Kubernetes control plane for tests/kube (see scripts/build_control_plane.sh): etcd 3.4.23 from Debian,
# kube-apiserver, kube-controller-manager and kubectl v1.33.13 built with Go, cached in $(DRM_TOOLS).
# Included by the top Makefile.

.PHONY: control-plane
control-plane: ## Build the pinned Kubernetes control plane tests/kube start (cached outside the repo)
	@bash scripts/build_control_plane.sh

# The suite starts it (tests/kube/conftest.py), so `make test` builds it first.
test: control-plane
