"""Our code against the store as operators run it: distributed MinIO (2 nodes x 1 drive), read-only service user.

kubernetes/minio_values.yaml deploys exactly this; here the nodes are real ``minio server`` processes on one
machine (``tests.support.minio_cluster``), inside a network namespace of the test run's own where MinIO sees a
container (``test_distributed_minio_netns.py``). With 2 drives any one node can serve reads and a write needs
both. Only what our code does with that is checked: the service loads and serves through the node that is left,
and a publish without write quorum fails with one line naming it. MinIO's own policy engine is checked against
the chart's user in ``tests/deploy/test_deploy_minio_user.py``; waiting for a store that is down, in
``tests/service/test_minio_integration.py``.

Times to ready are printed (``pytest -s`` shows them) and never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import diabetes_risk_model
from diabetes_risk_model.signing import build_package
from tests.support.minio_cluster import DistributedMinio, S3Login
from tests.support.packages import MODEL_NAME, OBJECT_NAME, PARAMETERS_VERSION, Artifacts
from tests.support.service import PREDICT, docker_configuration, upload


def storage_cli(login: S3Login, keyring: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m diabetes_risk_model.storage`` as a publisher runs it, with *login* and *keyring* in the
    environment (with a keyring it verifies before uploading)."""
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


def test_with_one_node_stopped_the_service_loads_and_serves_through_the_other(
    distributed_minio: DistributedMinio,
    artifacts: Artifacts,
    monkeypatch: pytest.MonkeyPatch,
    start_service: Callable[..., TestClient],
) -> None:
    upload(distributed_minio.root(0), artifacts.package)
    distributed_minio.cluster.nodes[0].stop()  # the node it was written through

    started = time.monotonic()
    client = start_service(docker_configuration(distributed_minio.service(1), artifacts, monkeypatch))
    print(f"\ntime to ready [1 of 2 nodes up]: {time.monotonic() - started:.2f}s")
    assert client.get("/api/health/ready").status_code == 200
    response = client.post(PREDICT, json={"body_mass_index": 33, "age": "FORTY_TO_FORTY_FOUR"})
    assert response.status_code == 200, response.text
    assert response.json()["diabetes_risk"]


def test_publishing_without_write_quorum_fails_with_one_line(
    distributed_minio: DistributedMinio, artifacts: Artifacts, tmp_path: Path
) -> None:
    root = distributed_minio.root(0)
    upload(root, artifacts.package)  # creates the bucket while both nodes are up
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
    for path, name in ((artifacts.package, OBJECT_NAME), (large, "large.zip")):
        published = storage_cli(root, artifacts.keyring_file, "upload", str(path), "--object", name)
        assert published.returncode == 1, (name, published.stdout, published.stderr)
        assert published.stderr.count("\n") == 1 and published.stderr.startswith("error: "), published.stderr
        assert "write quorum" in published.stderr and name in published.stderr, published.stderr
        assert "Traceback" not in published.stderr and root.secret_key not in published.stderr
