"""The store as operators run it: distributed MinIO (2 nodes x 1 drive) and a read-only service user.

kubernetes/minio_values.yaml deploys exactly this; here the nodes are real ``minio server`` processes on one
machine (see ``tests.support.minio_cluster``), inside a network namespace of the test run's own
where MinIO sees a container (``test_distributed_minio_netns.py``). With 2 drives MinIO stores 1 data + 1 parity
shard per object: any one node can serve reads, and a write needs both. Every refusal asserted below is
MinIO's own (its erasure quorum, its policy engine), not a check of ours.

Times to ready are printed (``pytest -s`` shows them) and never asserted.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from minio import Minio, MinioAdmin
from minio.commonconfig import CopySource
from minio.credentials import StaticProvider
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

import diabetes_risk_model
from diabetes_risk_model.errors import StorageAccessDenied, StorageUnavailable
from diabetes_risk_model.signing import Expectation, Keyring, build_package, verify_package
from diabetes_risk_model.storage import open_store
from tests.support.minio_cluster import DistributedMinio, MinioCluster, S3Login
from tests.support.packages import BUCKET, MODEL_NAME, OBJECT_NAME, PARAMETERS_VERSION, Artifacts
from tests.support.service import PREDICT, docker_configuration, upload, wait_for_startup

SERVICE_INPUT = {"body_mass_index": 33, "age": "FORTY_TO_FORTY_FOUR"}


def report(case: str, seconds: float) -> None:
    print(f"\ntime to ready [{case}]: {seconds:.2f}s")


def raw_client(login: S3Login) -> Minio:
    return Minio(login.endpoint, access_key=login.access_key, secret_key=login.secret_key, secure=False)


def store_for(login: S3Login) -> Any:
    return open_store(login.endpoint, BUCKET, login.access_key, login.secret_key)


def storage_cli(login: S3Login, keyring: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m diabetes_risk_model.storage`` as a publisher runs it, with *login* and *keyring* in the
    environment (with a keyring it verifies before uploading, and prints no warning)."""
    env = dict(
        os.environ,
        MINIO_URL=login.endpoint,
        MINIO_ACCESS_KEY=login.access_key,
        MINIO_SECRET_KEY=login.secret_key,
        MODEL_KEYRING=str(keyring),
    )
    return subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model.storage", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_serves(client: TestClient) -> None:
    assert client.get("/api/health/ready").status_code == 200
    response = client.post(PREDICT, json=SERVICE_INPUT)
    assert response.status_code == 200, response.text
    assert response.json()["diabetes_risk"]


def test_one_deployment_of_two_nodes_with_a_read_only_service_user(
    distributed_minio: DistributedMinio, tmp_path: Path
) -> None:
    cluster = distributed_minio.cluster
    admin = MinioAdmin(
        endpoint=cluster.endpoint, credentials=StaticProvider(cluster.access_key, cluster.secret_key), secure=False
    )
    info = json.loads(admin.info())
    assert len(info["servers"]) == 2
    assert sorted(len(server["drives"]) for server in info["servers"]) == [1, 1]
    assert {drive["state"] for server in info["servers"] for drive in server["drives"]} == {"ok"}
    assert json.loads(admin.user_info("model-service"))["policyName"] == "readonly"

    payload = tmp_path / "one.zip"
    payload.write_bytes(os.urandom(4096))
    store_for(distributed_minio.root(0)).upload(payload, "one.zip")
    fetched = store_for(distributed_minio.service(1)).download("one.zip", tmp_path / "fetched.zip")
    assert fetched.read_bytes() == payload.read_bytes()  # written through node 0, read through node 1


def test_the_service_credentials_cannot_write_or_delete(
    distributed_minio: DistributedMinio,
    artifacts: Artifacts,
    tmp_path: Path,
) -> None:
    upload(distributed_minio.root(), artifacts.package)
    original = artifacts.package.read_bytes()
    service = distributed_minio.service()

    # Our store with the service's credentials: it reads (so the credentials are valid), and every write
    # is refused by MinIO.
    store = store_for(service)
    assert store.download(OBJECT_NAME, tmp_path / "read.zip").read_bytes() == original
    replacement = tmp_path / "replacement.zip"
    replacement.write_bytes(b"not the signed package")
    for name in (OBJECT_NAME, "new-object.zip"):
        with pytest.raises(StorageAccessDenied, match="AccessDenied"):
            store.upload(replacement, name)

    # The S3 API directly, so that no check of ours stands between the credentials and MinIO's policy engine.
    client = raw_client(service)
    attempts: dict[str, Callable[[], object]] = {
        "overwrite": lambda: client.fput_object(BUCKET, OBJECT_NAME, str(replacement)),
        "create": lambda: client.fput_object(BUCKET, "new-object.zip", str(replacement)),
        "copy": lambda: client.copy_object(BUCKET, "copy.zip", CopySource(BUCKET, OBJECT_NAME)),
        "delete": lambda: client.remove_object(BUCKET, OBJECT_NAME),
        "delete bucket": lambda: client.remove_bucket(BUCKET),
        "make bucket": lambda: client.make_bucket("another-bucket"),
    }
    for what, attempt in attempts.items():
        with pytest.raises(S3Error) as info:
            attempt()
        assert info.value.code == "AccessDenied", (what, info.value.code)
    assert [error.code for error in client.remove_objects(BUCKET, [DeleteObject(OBJECT_NAME)])] == ["AccessDenied"]

    root = raw_client(distributed_minio.root())
    assert [obj.object_name for obj in root.list_objects(BUCKET)] == [OBJECT_NAME]
    assert not root.bucket_exists("another-bucket")
    assert store_for(distributed_minio.root()).download(OBJECT_NAME, tmp_path / "after.zip").read_bytes() == original


def test_with_one_node_stopped_the_service_downloads_verifies_and_serves(
    distributed_minio: DistributedMinio,
    artifacts: Artifacts,
    monkeypatch: pytest.MonkeyPatch,
    start_service: Callable[..., TestClient],
    tmp_path: Path,
) -> None:
    upload(distributed_minio.root(), artifacts.package)
    service = distributed_minio.service(0)

    started = time.monotonic()
    assert_serves(start_service(docker_configuration(service, artifacts, monkeypatch)))
    report("2 of 2 nodes up", time.monotonic() - started)

    distributed_minio.cluster.nodes[1].stop()

    # The pieces: download with the service's credentials, verify with the service's keyring.
    fetched = store_for(service).download(OBJECT_NAME, tmp_path / "fetched.zip")
    verified = verify_package(
        fetched,
        Keyring.load(artifacts.keyring_file),
        Expectation(MODEL_NAME, diabetes_risk_model.__version__, PARAMETERS_VERSION),
    )
    assert verified.manifest.name == MODEL_NAME

    # The whole service, talking to the node that is left (as the Kubernetes Service routes to ready pods).
    started = time.monotonic()
    assert_serves(start_service(docker_configuration(service, artifacts, monkeypatch)))
    report("1 of 2 nodes up", time.monotonic() - started)


def test_publishing_without_write_quorum_fails_with_one_line_and_leaves_no_object(
    distributed_minio: DistributedMinio,
    artifacts: Artifacts,
    tmp_path: Path,
) -> None:
    root = distributed_minio.root(0)
    upload(root, artifacts.package)
    original = artifacts.package.read_bytes()
    padding = tmp_path / "padding.bin"
    padding.write_bytes(os.urandom(6 * 1024 * 1024))
    large = build_package(  # a signed package over minio-py's 5 MiB part size: the multipart path
        tmp_path / "large",
        name=MODEL_NAME,
        version=diabetes_risk_model.__version__,
        parameters_version=PARAMETERS_VERSION,
        model_pickle=artifacts.model_pickle,
        extra_members={"padding.bin": padding},
        keyring=artifacts.signing,
    )

    distributed_minio.cluster.nodes[1].stop()
    attempts = {
        "new object": (artifacts.package, "diabetes_risk_model-0.1.0-2099_01_01.zip"),
        "replacing the served object": (large, OBJECT_NAME),
        "multipart": (large, "large.zip"),
    }
    for what, (path, name) in attempts.items():
        published = storage_cli(root, artifacts.keyring_file, "upload", str(path), "--object", name)
        assert published.returncode == 1, (what, published.stdout, published.stderr)
        assert published.stderr.count("\n") == 1 and published.stderr.startswith("error: "), (what, published.stderr)
        assert "write quorum" in published.stderr and name in published.stderr, (what, published.stderr)
        assert "Traceback" not in published.stderr and root.secret_key not in published.stderr

    distributed_minio.cluster.start()  # with both nodes back, nothing of the failed writes is visible
    assert store_for(root).list() == [OBJECT_NAME]
    assert store_for(root).download(OBJECT_NAME, tmp_path / "after.zip").read_bytes() == original


def test_with_every_node_down_at_start_the_service_waits_then_becomes_ready(
    distributed_minio: DistributedMinio,
    artifacts: Artifacts,
    monkeypatch: pytest.MonkeyPatch,
    start_service: Callable[..., TestClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload(distributed_minio.root(), artifacts.package)
    distributed_minio.cluster.stop()
    configuration = docker_configuration(
        distributed_minio.service(0),
        artifacts,
        monkeypatch,
        storage_attempts=400,
        storage_backoff=0.1,
        storage_backoff_max=0.5,
    )
    with caplog.at_level(logging.INFO):
        client = start_service(configuration, wait=False)
        deadline = time.monotonic() + 60
        while "waiting for storage" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "waiting for storage" in caplog.text
        assert client.get("/api/health/ready").status_code == 503
        assert client.post(PREDICT, json=SERVICE_INPUT).status_code == 503

        launched = time.monotonic()
        for node in distributed_minio.cluster.nodes:
            node.launch()
        wait_for_startup(client)
        report("every node down at start, from relaunch", time.monotonic() - launched)
    assert_serves(client)
    assert distributed_minio.service_user[1] not in caplog.text


def test_a_deployment_that_fails_to_start_leaves_no_process_behind(tmp_path: Path) -> None:
    never_ready = tmp_path / "minio"
    never_ready.write_text("#!/bin/sh\nexec sleep 60\n")
    never_ready.chmod(0o755)
    cluster = MinioCluster(tmp_path / "cluster", binary=never_ready)
    with pytest.raises(StorageUnavailable, match="did not become ready"):
        cluster.start(timeout=1.5)
    assert all(node.process is None for node in cluster.nodes)
