"""The operator's `make kube-*` targets on bad input: each stops with one line naming what is missing.

The happy path (every target, in order, against the test node, then rollouts) is tests/kube/test_node_service.py.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

import diabetes_risk_model
from diabetes_risk_model.signing import Key, Keyring, build_package
from tests.kube import kube_support as ks
from tests.kube.control_plane import ControlPlane
from tests.kube.operator_rig import output
from tests.support.minio_server import free_port


def make(plane: ControlPlane, target: str, env: dict[str, str], **variables: str) -> subprocess.CompletedProcess[str]:
    full = plane.env()
    full.update(env)
    command = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(command, capture_output=True, text=True, cwd=ks.REPO, env=full, timeout=300, check=False)


@pytest.fixture
def operator(tmp_path: Path) -> dict[str, Any]:
    """An operator's environment: a public keyring outside the repository and made-up MinIO credentials."""
    keyring = Keyring([Key.generate("kube-test", "ecdsa-p256")])
    public = keyring.public().save(tmp_path / "keys" / "public-keyring.json")
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps({"stand-in": True}))  # a real signed package; nothing here unpickles it
    package = build_package(
        tmp_path / "package",
        name="diabetes_risk_model",
        version=diabetes_risk_model.__version__,
        parameters_version="2026_12_01",
        model_pickle=model,
        extra_members={},
        keyring=keyring,
    )
    return {
        "package": package,
        "env": {
            "MINIO_ROOT_USER": "admin",
            "MINIO_ROOT_PASSWORD": "not-a-real-password",
            "MINIO_SECRET_KEY": "not-a-real-password",
            "MODEL_PUBLIC_KEYRING": str(public),
            "PYTHON": sys.executable,
            "MINIO_LOCAL_PORT": str(free_port()),
            "KUBE_ROLLOUT_TIMEOUT": "5s",
        },
    }


def our_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """stderr without make's own "make: *** [...] Error 1" (or "make[1]: ***" when the suite runs under make)."""
    return [line for line in result.stderr.splitlines() if line.strip() and not MAKE_ERROR.match(line)]


MAKE_ERROR = re.compile(r"make(\[\d+\])?: \*\*\* ")
UNREACHABLE_TARGETS = (
    "kube-namespace",
    "kube-secrets",
    "kube-minio",
    "kube-upload",
    "kube-config",
    "kube-deploy",
    "kube-status",
    "kube-delete",
)


@pytest.mark.parametrize("target", UNREACHABLE_TARGETS)
def test_a_target_against_an_unreachable_api_server_stops_at_once_with_one_line(
    cluster: ControlPlane, operator: dict[str, Any], tmp_path: Path, target: str
) -> None:
    env = dict(operator["env"])
    kubeconfig = tmp_path / "unreachable-kubeconfig"
    text = cluster.kubeconfig.read_text().replace(cluster.server, f"https://127.0.0.1:{free_port()}")
    kubeconfig.write_text(text)
    env["KUBECONFIG"] = str(kubeconfig)
    before = cluster.kubectl("get", "all,configmaps,secrets,namespaces", "-A", "-o", "name").stdout
    started = time.monotonic()
    result = make(cluster, target, env, PACKAGE=str(operator["package"]), MODEL_PARAMETERS_VERSION="2026_12_01")
    elapsed = time.monotonic() - started
    assert result.returncode != 0, output(result)
    lines = our_lines(result)
    assert len(lines) == 1, f"{target} against an unreachable API server printed {len(lines)} lines:\n{output(result)}"
    # Not a speed goal: a hang detector (a retry loop or a 30 s wait for a port-forward would trip it).
    assert elapsed < 10, f"{target} took {elapsed:.1f} s to notice the API server is unreachable:\n{output(result)}"
    assert cluster.kubectl("get", "all,configmaps,secrets,namespaces", "-A", "-o", "name").stdout == before


def test_kube_minio_and_kube_deploy_on_a_cluster_without_a_ready_node_stop_with_one_line(
    operator: dict[str, Any], tmp_path: Path
) -> None:
    # A control plane of its own that no node has joined (the session's has one).
    with ControlPlane(tmp_path / "no-node") as bare:
        for target in ("kube-minio", "kube-deploy"):
            result = make(bare, target, operator["env"])
            assert result.returncode != 0, output(result)
            expected = [f"{target}: no node of the cluster is Ready (kubectl get nodes)"]
            assert our_lines(result) == expected, output(result)
        assert "model-services" not in bare.kubectl("get", "namespaces", "-o", "name").stdout


def test_kube_deploy_with_an_image_on_no_node_stops_with_one_line(
    cluster: ControlPlane, operator: dict[str, Any]
) -> None:
    before = cluster.kubectl("get", "deployments", "-A", "-o", "name").stdout
    result = make(cluster, "kube-deploy", operator["env"], IMAGE="diabetes_risk_model_service:0.0.0-absent")
    assert result.returncode != 0, output(result)
    lines = our_lines(result)
    assert len(lines) == 1 and "image diabetes_risk_model_service:0.0.0-absent is on no Ready node" in lines[0], output(
        result
    )
    assert cluster.kubectl("get", "deployments", "-A", "-o", "name").stdout == before


# What each broken input removes from the service's Deployment, and what `kubectl describe pod` must then name.
BROKEN = {
    "configmap-key": ("ConfigMap model-service-config without MODEL_PACKAGE_SHA256", "MODEL_PACKAGE_SHA256"),
    "secret-key": ("Secret model-service-secrets without MINIO_SECRET_KEY", "MINIO_SECRET_KEY"),
    "image": ("an image that is on no node", "diabetes_risk_model_service:0.0.0-absent"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_missing_key_or_image_fails_the_pod_with_the_reason_named_in_describe(
    cluster_with_images: ControlPlane, case: str
) -> None:
    cluster = cluster_with_images
    namespace = f"drm-broken-{case}"
    space = ks.documents(ks.KUBERNETES / "namespace.yaml")[0]
    space["metadata"]["name"] = namespace
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(space))
    ks.wait_for_service_account(cluster, namespace)
    config = {
        "kubernetes_rest_config.yaml": "service_title: x\n",
        "MINIO_URL": "minio:9000",
        "MINIO_SECURE": "false",
        "MODEL_PARAMETERS_VERSION": "2026_12_01",
        "MODEL_PACKAGE_SHA256": "0" * 64,
        "MODEL_MIN_SEQUENCE": "1",
    }
    secret = {"MINIO_ACCESS_KEY": "model-service", "MINIO_SECRET_KEY": "x" * 16, "keyring.json": "{}"}
    if case == "configmap-key":
        del config["MODEL_PACKAGE_SHA256"]
    if case == "secret-key":
        del secret["MINIO_SECRET_KEY"]
    for kind, name, data in (
        ("ConfigMap", "model-service-config", config),
        ("Secret", "model-service-secrets", secret),
    ):
        body = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace}}
        body["data" if kind == "ConfigMap" else "stringData"] = data
        cluster.kubectl("apply", "-f", "-", input=json.dumps(body))
    deployment = ks.the_object("Deployment")
    deployment["metadata"]["namespace"] = namespace
    deployment["spec"]["replicas"] = 1
    if case == "image":
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        # Never: the kubelet reports the absent image at once instead of trying a registry this machine cannot reach.
        container["image"], container["imagePullPolicy"] = "diabetes_risk_model_service:0.0.0-absent", "Never"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(deployment))
    what, named = BROKEN[case]
    deadline = time.monotonic() + 90
    while True:
        pods = ks.pods_owned_by(cluster, namespace, "Deployment", deployment["metadata"]["name"])
        statuses = [s for p in pods for s in p.get("status", {}).get("containerStatuses", [])]
        waiting = [s.get("state", {}).get("waiting", {}) for s in statuses]
        if any(w.get("reason") in ("CreateContainerConfigError", "ErrImageNeverPull") for w in waiting):
            break
        assert time.monotonic() < deadline, f"{what}: the pod did not fail: {waiting}"
        time.sleep(1)
    described = cluster.kubectl("describe", "pod", "-n", namespace, pods[0]["metadata"]["name"]).stdout
    assert named in described, f"{what}: kubectl describe does not name {named}:\n{described[-3000:]}"
