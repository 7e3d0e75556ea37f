"""The probes of kubernetes/model_service.yaml against the real app, started the way the image starts it.

The app is the one the Dockerfile's CMD names, built from configuration/kubernetes_rest_config.yaml (what the
ConfigMap carries) with exactly the environment variables the Deployment sets. It runs in a child process,
because rest_model_service keeps its model registry in process-wide singletons.
"""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.signing import Key, Keyring, build_package
from diabetes_risk_model.storage import open_store
from tests.support.deploy import REPO, container, container_env, deployment, dockerfile
from tests.support.minio_server import free_port

PROBES = ("startupProbe", "readinessProbe", "livenessProbe")

# Child process: import MODULE:ATTR, start the app (lifespan, so the model loads in the background as under
# uvicorn), poll the probe paths until the wanted statuses appear (bounded), print what the probes said.
CHILD = """
import importlib, json, os, sys, time
from fastapi.testclient import TestClient
module, attribute = os.environ["APP_TARGET"].split(":")
paths = json.loads(os.environ["PROBE_PATHS"])
want = json.loads(os.environ["WANT"])
app = getattr(importlib.import_module(module), attribute)
def statuses(client):
    return {probe: client.get(path).status_code for probe, path in paths.items()}
before = statuses(TestClient(app))
seen = []
with TestClient(app) as client:
    deadline = time.monotonic() + float(os.environ.get("WAIT", "60"))
    while True:
        now = statuses(client)
        seen.append(now)
        if now == want or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    fetched = None
    if os.environ.get("FETCH"):
        answer = client.get(os.environ["FETCH"])
        fetched = {"status": answer.status_code, "type": answer.headers.get("content-type", ""), "body": answer.text}
    # Report and leave at once: shutting down would wait for a loader that may still be retrying storage.
    print("PROBES " + json.dumps({"before": before, "seen": seen, "fetched": fetched}), flush=True)
    os._exit(0)
"""


def app_target() -> str:
    df = dockerfile()
    argv = df.of("CMD", df.final_stage)[-1].exec_form()
    assert argv is not None and argv[0] == "uvicorn"
    return argv[1]


def probe_paths() -> dict[str, str]:
    return {probe: container()[probe]["httpGet"]["path"] for probe in PROBES}


def deployment_environment(tmp_path: Path, supplied: dict[str, str], keyring: Keyring | None = None) -> dict[str, str]:
    """The Deployment's env: literal values as written, with the two mounted files mapped to real files here,
    and every secretKeyRef / configMapKeyRef taken from *supplied* (optional ones may be absent)."""
    env: dict[str, str] = {}
    for name, item in container_env().items():
        if "value" in item:
            env[name] = item["value"]
            continue
        ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"]["configMapKeyRef"]
        if ref["key"] in supplied:
            env[name] = supplied[ref["key"]]
        else:
            assert ref.get("optional"), f"the test supplies no value for required {ref['key']}"
    # Files the pod gets from the ConfigMap and the Secret volume.
    assert env["REST_CONFIG"].endswith("/kubernetes_rest_config.yaml")
    env["REST_CONFIG"] = str(REPO / "configuration" / "kubernetes_rest_config.yaml")
    ring = keyring or Keyring([Key.generate("release-1", "ecdsa-p256")])
    env["MODEL_KEYRING"] = str(ring.public().save(tmp_path / "keyring" / "keyring.json"))
    env["TMPDIR"] = str(tmp_path)
    return env


def run_app(env: dict[str, str], want: dict[str, int], wait: float = 60, fetch: str = "") -> dict[str, Any]:
    child_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "PYTHONPATH": str(REPO),
        "APP_TARGET": app_target(),
        "PROBE_PATHS": json.dumps(probe_paths()),
        "WANT": json.dumps(want),
        "WAIT": str(wait),
        "FETCH": fetch,
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=wait + 120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("PROBES ")]
    report: dict[str, Any] = json.loads(line[len("PROBES ") :])
    report["log"] = result.stdout
    return report


def supplied(
    minio_url: str, access_key: str = "model-service", secret_key: str = "not-used", pinned: Path | None = None
) -> dict[str, str]:
    """The ConfigMap's and the Secret's keys as `make kube-config` / `make kube-secrets` write them; the pin is
    the digest and sequence of *pinned* (the package kube-config was given)."""
    return {
        "MINIO_URL": minio_url,
        "MINIO_SECURE": "false",
        "MODEL_PARAMETERS_VERSION": "2026_11_22",
        "MODEL_PACKAGE_SHA256": sha256_file(pinned) if pinned else "0" * 64,
        "MODEL_MIN_SEQUENCE": "0",
        "MINIO_ACCESS_KEY": access_key,
        "MINIO_SECRET_KEY": secret_key,
    }


def test_every_probe_path_answers_in_the_real_app_and_storage_outage_keeps_it_starting(tmp_path: Path) -> None:
    """MinIO unreachable (nothing listens): the pod is starting, alive and not ready, and stays so while the
    service retries, so the startup probe (not liveness) decides how long that may last."""
    env = deployment_environment(tmp_path, supplied(f"127.0.0.1:{free_port()}"))
    starting = {"startupProbe": 503, "readinessProbe": 503, "livenessProbe": 200}
    report = run_app(env, want={"never": 0}, wait=3)
    assert report["before"] == starting, "a probe path does not answer as the Deployment expects"
    assert report["seen"] and all(seen == starting for seen in report["seen"]), report["seen"]


OBJECT_NAME = "diabetes_risk_model-0.1.0-2026_11_22.zip"


def signed_package(directory: Path, keyring: Keyring, sequence: int | None = None) -> Path:
    """A real package in our format; its model.pkl is a harmless pickle (it must never be unpickled here)."""
    directory.mkdir(parents=True, exist_ok=True)
    model = directory / "model.pkl"
    model.write_bytes(pickle.dumps({"not": "a model"}))
    return build_package(
        directory,
        name="diabetes_risk_model",
        version="0.1.0",
        parameters_version="2026_11_22",
        model_pickle=model,
        extra_members={},
        keyring=keyring,
        sequence=sequence,
    )


def forged(kind: str, directory: Path, service_keyring: Keyring) -> Path:
    directory.mkdir()
    if kind == "not a zip":
        path = directory / OBJECT_NAME
        path.write_bytes(b"not a zip at all")
        return path
    if kind == "signed by an unknown key":
        return signed_package(directory, Keyring([Key.generate("attacker", "ecdsa-p256")]))
    # "tampered after signing": the right key signed it, then one byte of model.pkl's data changed.
    package = signed_package(directory, service_keyring)
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo("model.pkl")
    raw = bytearray(package.read_bytes())
    name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26 : info.header_offset + 30])
    data_start = info.header_offset + 30 + name_length + extra_length
    raw[data_start + info.compress_size // 2] ^= 0x01
    package.write_bytes(bytes(raw))
    return package


REFUSALS = {
    "not a zip": "UnsafeArchive",
    "signed by an unknown key": "UnknownKey",
    "tampered after signing": "DigestMismatch",
}


@pytest.mark.parametrize("kind", sorted(REFUSALS))
def test_a_package_that_fails_verification_restarts_the_pod_and_gets_no_traffic(
    minio_server: Any, tmp_path: Path, kind: str
) -> None:
    """A refused package: startup finishes (200), liveness fails (503: the kubelet restarts the container),
    readiness fails (503: the Service sends it nothing)."""
    service_keyring = Keyring([Key.generate("release-1", "ecdsa-p256")])
    package = forged(kind, tmp_path / "forged", service_keyring)
    assert package.name == OBJECT_NAME
    store = open_store(minio_server.endpoint, "model-files", minio_server.access_key, minio_server.secret_key)
    store.upload(package, OBJECT_NAME)
    # The pin is the forged object's own digest (as if kube-config had been given it), so what refuses it is
    # verification itself.
    env = deployment_environment(
        tmp_path,
        supplied(minio_server.endpoint, minio_server.access_key, minio_server.secret_key, pinned=package),
        service_keyring,
    )
    refused = {"startupProbe": 200, "readinessProbe": 503, "livenessProbe": 503}
    report = run_app(env, want=refused)
    assert report["seen"][-1] == refused, report["seen"]
    assert f"refused, nothing was unpickled: {REFUSALS[kind]}:" in report["log"], report["log"][-2000:]


def test_a_validly_signed_package_other_than_the_pinned_one_gets_no_traffic(minio_server: Any, tmp_path: Path) -> None:
    """Write access to the bucket: the object is replaced by another package signed with the service's own key.
    Its digest is not the ConfigMap's pin, so the pod is refused before verification and never becomes ready."""
    service_keyring = Keyring([Key.generate("release-1", "ecdsa-p256")])
    pinned = signed_package(tmp_path / "pinned", service_keyring, sequence=2)
    replacement = signed_package(tmp_path / "replacement", service_keyring, sequence=3)
    assert sha256_file(pinned) != sha256_file(replacement)
    store = open_store(minio_server.endpoint, "model-files", minio_server.access_key, minio_server.secret_key)
    store.upload(replacement, OBJECT_NAME)
    env = deployment_environment(
        tmp_path,
        supplied(minio_server.endpoint, minio_server.access_key, minio_server.secret_key, pinned=pinned),
        service_keyring,
    )
    refused = {"startupProbe": 200, "readinessProbe": 503, "livenessProbe": 503}
    report = run_app(env, want=refused)
    assert report["seen"][-1] == refused, report["seen"]
    assert "BindingMismatch: package_sha256" in report["log"], report["log"][-2000:]


def test_the_annotated_scrape_path_serves_prometheus_metrics(tmp_path: Path) -> None:
    """What the pod template's prometheus.io/* annotations point at answers in the real app, in the text
    exposition format (parsed by prometheus_client's own parser), even while the model is still loading."""
    annotations = deployment()["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(container()["ports"][0]["containerPort"])
    env = deployment_environment(tmp_path, supplied(f"127.0.0.1:{free_port()}"))
    # The child polls the probe paths first, so the scrape has requests to count.
    report = run_app(env, want={"never": 0}, wait=1, fetch=annotations["prometheus.io/path"])
    fetched = report["fetched"]
    assert fetched and fetched["status"] == 200, fetched
    assert fetched["type"].startswith("text/plain"), fetched["type"]
    families = list(text_string_to_metric_families(fetched["body"]))
    assert families and any(family.samples for family in families), fetched["body"][:2000]
