"""The operator's `make kube-*` session, run for real against the control plane, then a new package rolled out.

Real: the API server, the controllers, kubectl, helm and the chart, the Secrets, ConfigMap, Deployment and
Service the targets create, the package upload into a real MinIO. Not real, and why: there is no kubelet, so
no pod ever runs or becomes ready. Hence
  - `kube-minio` and `kube-deploy` wait for readiness that cannot come: they run with a short
    KUBE_ROLLOUT_TIMEOUT and must fail on that wait only, after creating everything;
  - `kube-upload`'s `kubectl port-forward` needs a running pod: the kubectl the targets run is the real one for
    every command except `port-forward svc/<release>`, which checks that the Service exists in the real cluster
    and then forwards to a real MinIO on 127.0.0.1 (the upload itself is the target's own code).
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import diabetes_risk_model
from diabetes_risk_model.errors import DiabetesRiskModelError
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.signing import Key, Keyring, build_package, verify_package
from diabetes_risk_model.storage import open_store
from tests.kube import kube_support as ks
from tests.kube.control_plane import ControlPlane
from tests.support.minio_server import MinioServer, free_port

SHORT_WAIT = "5s"

# The kubectl on PATH for the targets: the real one, except port-forward (see the module docstring).
KUBECTL_WRAPPER = r"""#!{python}
import os, subprocess, sys
real = {real!r}
args = sys.argv[1:]
if not args or args[0] != "port-forward":
    os.execv(real, [real, *args])
namespace = args[args.index("--namespace") + 1]
service = next(a for a in args[1:] if a.startswith("svc/"))
local = int(args[-1].split(":")[0])
# What port-forward resolves first: the Service, in the real cluster. No Service: fail as kubectl would.
check = subprocess.run([real, "get", service, "--namespace", namespace], capture_output=True, text=True)
if check.returncode != 0:
    sys.exit(check.stderr.strip())
os.execv(sys.executable, [sys.executable, {forwarder!r}, str(local), os.environ["DRM_TEST_MINIO"]])
"""


def make(plane: ControlPlane, target: str, env: dict[str, str], **variables: str) -> subprocess.CompletedProcess[str]:
    full = plane.env()
    full.update(env)
    command = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(command, capture_output=True, text=True, cwd=ks.REPO, env=full, timeout=300, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def sign_package(directory: Path, keyring: Keyring, parameters_version: str) -> Path:
    """A real signed package (its model member is a plain pickle: nothing here unpickles it)."""
    directory.mkdir(parents=True, exist_ok=True)
    model = directory / "model.pkl"
    model.write_bytes(pickle.dumps({"stand-in": parameters_version}))
    return build_package(
        directory,
        name="diabetes_risk_model",
        version=diabetes_risk_model.__version__,
        parameters_version=parameters_version,
        model_pickle=model,
        extra_members={},
        keyring=keyring,
    )


def refs(deployment: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Every (kind, name, key, optional) the pod template reads from a Secret or ConfigMap."""
    spec = deployment["spec"]["template"]["spec"]
    found: list[tuple[str, str, str, bool]] = []
    for container in spec.get("initContainers", []) + spec["containers"]:
        for env in container.get("env", []):
            source = env.get("valueFrom", {})
            for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if field in source:
                    ref = source[field]
                    found.append((kind, ref["name"], ref["key"], bool(ref.get("optional"))))
        for env_from in container.get("envFrom", []):
            for field, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if field in env_from:
                    found.append((kind, env_from[field]["name"], "", bool(env_from[field].get("optional"))))
    for volume in spec.get("volumes", []):
        for field, kind, name_field in (("secret", "Secret", "secretName"), ("configMap", "ConfigMap", "name")):
            if field in volume:
                source = volume[field]
                for item in source.get("items", []) or [{"key": ""}]:
                    found.append((kind, source[name_field], item["key"], bool(source.get("optional"))))
    return found


def secret_values(plane: ControlPlane, namespace: str) -> dict[str, dict[str, bytes]]:
    listed = ks.get_json(plane, "secrets", "-n", namespace)["items"]
    return {
        s["metadata"]["name"]: {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
        for s in listed
        if s.get("type") != "helm.sh/release.v1"  # helm's own release records (the rendered chart)
    }


def signing_material(name: str, value: bytes, scratch: Path) -> str | None:
    """Why this Secret value could sign a package, or None."""
    if b"PRIVATE KEY" in value:
        return "a PEM private key"
    if name.upper().startswith("PARAMETERS_SIGNING_KEY"):
        return "an HMAC signing key"
    try:
        document = json.loads(value)
    except ValueError:
        return None
    if not isinstance(document, dict) or "keys" not in document:
        return None
    scratch.write_bytes(value)
    try:
        ring = Keyring.load(scratch)
    except DiabetesRiskModelError as exc:
        return f"an unreadable keyring ({exc})"
    if ring.has_secrets or any(key.private is not None for key in ring.keys):
        return "a keyring with signing keys"
    return None


@pytest.fixture
def operator(tmp_path: Path, minio_server: MinioServer) -> dict[str, Any]:
    """An operator's environment: keys and two signed packages outside the repository, the MinIO credentials."""
    keyring = Keyring([Key.generate("kube-test", "ed25519")])
    public = keyring.public().save(tmp_path / "keys" / "public-keyring.json")
    wrapper_dir = tmp_path / "bin"
    wrapper_dir.mkdir()
    return {
        "keyring": keyring,
        "public": public,
        "first": sign_package(tmp_path / "release-1", keyring, "2026_12_01"),
        "second": sign_package(tmp_path / "release-2", keyring, "2026_12_02"),
        "wrapper_dir": wrapper_dir,
        "env": {
            "MINIO_ROOT_USER": minio_server.access_key,
            "MINIO_ROOT_PASSWORD": minio_server.secret_key,
            "MINIO_SECRET_KEY": secrets.token_urlsafe(16),
            "MODEL_PUBLIC_KEYRING": str(public),
            "PYTHON": sys.executable,
            "DRM_TEST_MINIO": minio_server.endpoint,
            "MINIO_LOCAL_PORT": str(free_port()),
            "KUBE_ROLLOUT_TIMEOUT": SHORT_WAIT,
        },
        "minio": minio_server,
    }


def _install_wrapper(plane: ControlPlane, operator: dict[str, Any]) -> dict[str, str]:
    wrapper = operator["wrapper_dir"] / "kubectl"
    wrapper.write_text(
        KUBECTL_WRAPPER.format(
            python=sys.executable, real=str(plane.kubectl_binary), forwarder=str(ks.REPO / "tests" / "forwarder.py")
        )
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    env = dict(operator["env"])
    env["PATH"] = f"{operator['wrapper_dir']}{os.pathsep}{plane.env()['PATH']}"
    return env


def test_the_operators_make_session_against_a_real_api_server(cluster: ControlPlane, operator: dict[str, Any]) -> None:
    env = _install_wrapper(cluster, operator)
    first: Path = operator["first"]
    namespace = ks.make_variable("KUBE_NAMESPACE")
    service_ns = ks.service_namespace()
    assert namespace == service_ns

    result = make(cluster, "kube-namespace", env)
    assert result.returncode == 0, output(result)
    ks.wait_for_service_account(cluster, namespace)
    assert not ks.warnings(result.stderr), output(result)

    result = make(cluster, "kube-secrets", env)
    assert result.returncode == 0, output(result)
    assert not ks.warnings(result.stderr), output(result)
    for value in (operator["env"]["MINIO_ROOT_PASSWORD"], operator["env"]["MINIO_SECRET_KEY"]):
        assert value not in result.stdout + result.stderr

    # helm upgrade --install --wait: everything is created; the wait for ready pods can only time out.
    result = make(cluster, "kube-minio", env)
    assert result.returncode != 0 and "context deadline exceeded" in result.stderr, output(result)
    assert not ks.warnings(result.stderr), output(result)
    minio_ns = ks.minio_namespace()
    statefulsets = ks.get_json(cluster, "statefulsets", "-n", minio_ns)["items"]
    assert [s["metadata"]["name"] for s in statefulsets] == [ks.make_variable("MINIO_RELEASE")]
    refused = ks.wait_for_pods(
        cluster, minio_ns, "StatefulSet", statefulsets[0]["metadata"]["name"], statefulsets[0]["spec"]["replicas"]
    )
    assert not refused, refused

    result = make(cluster, "kube-upload", env, PACKAGE=str(first))
    assert result.returncode == 0, output(result)
    store = open_store(
        operator["minio"].endpoint,
        ks.make_variable("MODEL_FILES_BUCKET"),
        operator["minio"].access_key,
        operator["minio"].secret_key,
    )
    downloaded = store.download(first.name, first.parent / "downloaded.zip")
    assert downloaded.read_bytes() == first.read_bytes()

    manifest = verify_package(first, operator["keyring"].public(), capture_model=False).manifest
    result = make(cluster, "kube-config", env, PACKAGE=str(first), MODEL_PARAMETERS_VERSION=manifest.parameters_version)
    assert result.returncode == 0, output(result)
    assert not ks.warnings(result.stderr), output(result)

    result = make(cluster, "kube-deploy", env)
    assert not ks.warnings(result.stderr), output(result)
    assert result.returncode != 0 and "timed out waiting" in result.stderr, output(result)

    # Everything the Deployment reads exists, with exactly the keys it names.
    deployment = ks.get_json(cluster, "deployment", ks.the_object("Deployment")["metadata"]["name"], "-n", service_ns)
    stored = {
        "Secret": secret_values(cluster, service_ns),
        "ConfigMap": {
            c["metadata"]["name"]: c.get("data", {})
            for c in ks.get_json(cluster, "configmaps", "-n", service_ns)["items"]
        },
    }
    missing = [
        f"{kind}/{name} key {key!r}" + (" (optional)" if optional else "")
        for kind, name, key, optional in refs(deployment)
        if name not in stored[kind] or (key and key not in stored[kind][name])
    ]
    assert not missing, f"the Deployment reads what nothing created: {missing}"
    config = stored["ConfigMap"][ks.make_variable("SERVICE_CONFIGMAP")]
    assert config["MODEL_PARAMETERS_VERSION"] == manifest.parameters_version
    read_keys = {key for kind, _, key, _ in refs(deployment) if kind == "ConfigMap"}
    if "MODEL_PACKAGE_SHA256" in read_keys:  # the pin (configuration of pinned deployments)
        assert config["MODEL_PACKAGE_SHA256"] == sha256_file(first)
        assert config["MODEL_MIN_SEQUENCE"] == str(manifest.sequence)

    # No Secret in the cluster's model namespaces holds anything that can sign a package.
    scratch = first.parent / "secret-value.json"
    for namespace_ in sorted({service_ns, minio_ns}):
        for name, data in secret_values(cluster, namespace_).items():
            for key, value in data.items():
                why = signing_material(key, value, scratch)
                assert why is None, f"Secret {namespace_}/{name} key {key} holds {why}"

    # The ReplicaSet controller made the pod: PodSecurity admitted it.
    deployment_name = deployment["metadata"]["name"]
    refused = ks.wait_for_pods(cluster, service_ns, "Deployment", deployment_name, deployment["spec"]["replicas"])
    assert not refused, refused
    before = _replica_sets(cluster, service_ns, deployment_name)
    assert len(before) == 1, before

    # A new package, as docs/operators.md describes it: upload, new ConfigMap values, rollout restart, kube-deploy.
    second: Path = operator["second"]
    result = make(cluster, "kube-upload", env, PACKAGE=str(second))
    assert result.returncode == 0, output(result)
    second_manifest = verify_package(second, operator["keyring"].public(), capture_model=False).manifest
    result = make(
        cluster, "kube-config", env, PACKAGE=str(second), MODEL_PARAMETERS_VERSION=second_manifest.parameters_version
    )
    assert result.returncode == 0, output(result)
    config = ks.get_json(cluster, "configmap", ks.make_variable("SERVICE_CONFIGMAP"), "-n", service_ns)["data"]
    assert config["MODEL_PARAMETERS_VERSION"] == second_manifest.parameters_version
    if "MODEL_PACKAGE_SHA256" in read_keys:
        assert config["MODEL_PACKAGE_SHA256"] == sha256_file(second)
        assert int(config["MODEL_MIN_SEQUENCE"]) == second_manifest.sequence > manifest.sequence
    cluster.kubectl("-n", service_ns, "rollout", "restart", f"deployment/{deployment_name}")
    result = make(cluster, "kube-deploy", env)
    assert result.returncode != 0 and "timed out waiting" in result.stderr, output(result)

    after = _replica_sets(cluster, service_ns, deployment_name)
    new = [rs for rs in after if rs not in before]
    assert len(new) == 1, f"one new ReplicaSet expected after the rollout: {after}"
    assert set(before) <= set(after), "the old ReplicaSet must be kept (revisionHistoryLimit)"
    history = deployment["spec"]["revisionHistoryLimit"]
    assert 1 <= len(after) - 1 <= history
    template = ks.get_json(cluster, "deployment", deployment_name, "-n", service_ns)["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"].get("annotations", {})
    refused = ks.wait_for_pods(cluster, service_ns, "ReplicaSet", new[0], 1)
    assert not refused, refused
    assert not ks.events(cluster, service_ns, "FailedCreate")


def _replica_sets(plane: ControlPlane, namespace: str, deployment: str) -> list[str]:
    listed = ks.get_json(plane, "replicasets", "-n", namespace)["items"]
    return sorted(
        rs["metadata"]["name"]
        for rs in listed
        if any(
            ref["kind"] == "Deployment" and ref["name"] == deployment
            for ref in rs["metadata"].get("ownerReferences", [])
        )
    )


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
    env = _install_wrapper(cluster, operator)
    kubeconfig = tmp_path / "unreachable-kubeconfig"
    text = cluster.kubeconfig.read_text().replace(cluster.server, f"https://127.0.0.1:{free_port()}")
    kubeconfig.write_text(text)
    env["KUBECONFIG"] = str(kubeconfig)
    before = cluster.kubectl("get", "all,configmaps,secrets,namespaces", "-A", "-o", "name").stdout
    started = time.monotonic()
    result = make(cluster, target, env, PACKAGE=str(operator["first"]), MODEL_PARAMETERS_VERSION="2026_12_01")
    elapsed = time.monotonic() - started
    assert result.returncode != 0, output(result)
    # make's own "make: *** [...] Error 1" (or "make[1]: ***" when the suite itself runs under make) is not ours.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not MAKE_ERROR.match(line)]
    assert len(lines) == 1, f"{target} against an unreachable API server printed {len(lines)} lines:\n{output(result)}"
    # Not a speed goal: a hang detector (a retry loop or a 30 s wait for a port-forward would trip it).
    assert elapsed < 10, f"{target} took {elapsed:.1f} s to notice the API server is unreachable:\n{output(result)}"
    assert cluster.kubectl("get", "all,configmaps,secrets,namespaces", "-A", "-o", "name").stdout == before
