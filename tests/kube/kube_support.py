"""Helpers for tests/kube: the repository's manifests, helm, and what the controllers did with them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from tests.kube.control_plane import ControlPlane

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "kubernetes"
TOOLS = Path(os.environ.get("DRM_TOOLS") or Path.home() / ".cache" / "drm-tools")
DEPLOY_TOOLS_HINT = "run: make deploy-tools"
# A warning as kubectl prints it ("Warning: ...") or as client-go logs it for helm
# ('I1202 02:22:27.510777 25848 warnings.go:107] "Warning: would violate PodSecurity ...').
WARNING = re.compile(r"^Warning: |warnings\.go:\d+\]")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def is_manifest(path: Path) -> bool:
    """A file of Kubernetes objects (every document has apiVersion and kind), as opposed to Helm values."""
    docs = documents(path)
    return bool(docs) and all("apiVersion" in doc and "kind" in doc for doc in docs)


def manifest_files() -> list[Path]:
    """Every manifest in kubernetes/, namespaces first (they must exist before what lives in them)."""
    files = sorted(p for p in KUBERNETES.glob("*.y*ml") if is_manifest(p))
    assert files, f"no manifests in {KUBERNETES}"
    return sorted(files, key=lambda p: not all(doc["kind"] == "Namespace" for doc in documents(p)))


def objects(kind: str) -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in documents(path) if doc["kind"] == kind]


def the_object(kind: str) -> dict[str, Any]:
    found = objects(kind)
    assert len(found) == 1, f"expected one {kind} in kubernetes/, found {len(found)}"
    return found[0]


def make_variable(*names: str) -> str:
    """The value make/kube.mk gives the first of ``names`` that it sets (its defaults, not the environment's)."""
    expression = "".join(f"$(or $({name})," for name in names) + ")" * len(names)
    env = {k: v for k, v in os.environ.items() if k not in names}
    result = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "make/kube.mk", "-f", "-", "drm-print-variable"],
        input=f"drm-print-variable:\n\t@echo '{expression}'\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


def service_namespace() -> str:
    return str(the_object("Deployment")["metadata"]["namespace"])


def minio_namespace() -> str:
    """Where `make kube-minio` installs the chart: MINIO_NAMESPACE if kube.mk has one, else KUBE_NAMESPACE."""
    return make_variable("MINIO_NAMESPACE", "KUBE_NAMESPACE")


def helm() -> Path:
    installed = TOOLS / "bin" / "helm"
    if installed.is_file() and os.access(installed, os.X_OK):
        return installed
    found = shutil.which("helm")
    assert found, f"helm is not in {TOOLS / 'bin'} nor on PATH; {DEPLOY_TOOLS_HINT}"
    return Path(found)


def minio_chart() -> Path:
    chart = TOOLS / "charts" / "minio"
    assert (chart / "Chart.yaml").is_file(), f"MinIO chart not found at {chart}; {DEPLOY_TOOLS_HINT}"
    return chart


def run(
    plane: ControlPlane, command: list[str], *, input: str | None = None, timeout: float = 180, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, input=input, capture_output=True, text=True, env=plane.env(), cwd=cwd, timeout=timeout, check=False
    )


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if WARNING.search(line)]


def get_json(plane: ControlPlane, *args: str) -> dict[str, Any]:
    return dict(json.loads(plane.kubectl("get", *args, "-o", "json").stdout))


def events(plane: ControlPlane, namespace: str, reason: str) -> list[str]:
    listed = get_json(plane, "events", "-n", namespace)
    return [
        f"{e['involvedObject']['kind']}/{e['involvedObject']['name']}: {e.get('message', '')}"
        for e in listed["items"]
        if e.get("reason") == reason
    ]


def wait_for_service_account(plane: ControlPlane, namespace: str, timeout: float = 60) -> None:
    """The controller manager makes each namespace's "default" ServiceAccount; pods need it to be admitted."""
    deadline = time.monotonic() + timeout
    while plane.kubectl("get", "serviceaccount", "default", "-n", namespace, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"no default ServiceAccount in {namespace} after {timeout:.0f} s"
        time.sleep(0.5)


def pods_owned_by(plane: ControlPlane, namespace: str, kind: str, name: str) -> list[dict[str, Any]]:
    """Pods whose owner is the given object (a Deployment's pods are owned by its ReplicaSets)."""
    owners = {name}
    if kind == "Deployment":
        sets = get_json(plane, "replicasets", "-n", namespace)["items"]
        owners = {
            rs["metadata"]["name"]
            for rs in sets
            if any(
                ref["kind"] == "Deployment" and ref["name"] == name for ref in rs["metadata"].get("ownerReferences", [])
            )
        }
        kind = "ReplicaSet"
    pods = get_json(plane, "pods", "-n", namespace)["items"]
    return [
        pod
        for pod in pods
        if any(ref["kind"] == kind and ref["name"] in owners for ref in pod["metadata"].get("ownerReferences", []))
    ]


def wait_for_pods(plane: ControlPlane, namespace: str, kind: str, name: str, count: int, timeout: float = 90) -> str:
    """Wait until the controller made ``count`` pods of the object, or refused to (a FailedCreate event).

    Returns "" when the pods exist, else the FailedCreate messages (there is no kubelet: pods stay Pending, but
    creating them is where PodSecurity admission's enforce mode acts).
    """
    deadline = time.monotonic() + timeout
    while True:
        if len(pods_owned_by(plane, namespace, kind, name)) >= count:
            return ""
        failed = events(plane, namespace, "FailedCreate")
        if failed:
            return "; ".join(failed)
        if time.monotonic() > deadline:
            return f"{kind}/{name}: fewer than {count} pods after {timeout:.0f} s and no FailedCreate event"
        time.sleep(1)
