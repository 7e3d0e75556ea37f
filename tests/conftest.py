"""Fixtures shared by every test area: a real MinIO server and deployment, the real training data, and (from
``tests/support/fixtures.py``) real pipelines, a real signed package and the service."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.minio_cluster import DistributedMinio, MinioCluster
from tests.support.minio_server import MinioServer

pytest_plugins = ("tests.support.fixtures",)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
DATA_FILE_NAME = "diabetes_binary_5050split_health_indicators_BRFSS2015.csv"


def pytest_configure(config: pytest.Config) -> None:
    """pycaret opens ``logs.log`` in the working directory when imported; keep test runs out of the work tree."""
    os.environ.setdefault("PYCARET_CUSTOM_LOGGING_PATH", os.path.join(tempfile.gettempdir(), "drm-tests-pycaret.log"))


@pytest.fixture
def minio_server(tmp_path: Path) -> Iterator[MinioServer]:
    """A real MinIO on 127.0.0.1 with a temp data dir and a free port, stopped afterwards."""
    server = MinioServer(data_dir=tmp_path / "minio-data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def _distributed_minio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedMinio]:
    cluster = MinioCluster(tmp_path_factory.mktemp("minio-cluster"), size=2)
    try:
        cluster.start()
        user = ("model-service", secrets.token_urlsafe(24))
        cluster.nodes[0].add_user(*user, policy="readonly")
        yield DistributedMinio(cluster, user)
    finally:
        cluster.stop()


@pytest.fixture
def distributed_minio(_distributed_minio: DistributedMinio) -> DistributedMinio:
    """MinIO as kubernetes/minio_values.yaml deploys it: distributed, 2 nodes x 1 drive, and a read-only
    user for the service (MinIO's built-in ``readonly`` policy, attached through the admin API).

    One deployment per test module (starting it takes seconds). Every test begins with all nodes running,
    writable, and no bucket, whatever the test before it stopped.
    """
    from minio import Minio
    from minio.deleteobjects import DeleteObject

    cluster = _distributed_minio.cluster
    cluster.start()
    root = Minio(cluster.endpoint, access_key=cluster.access_key, secret_key=cluster.secret_key, secure=False)
    for bucket in root.list_buckets():
        objects = [DeleteObject(o.object_name) for o in root.list_objects(bucket.name, recursive=True)]
        assert not list(root.remove_objects(bucket.name, objects))
        root.remove_bucket(bucket.name)
    return _distributed_minio


@pytest.fixture(scope="session")
def diabetes_csv() -> Path:
    """The real CSV: $DIABETES_DATA, else ../shared/data/. Missing data is a failure, not a skip."""
    path = Path(os.environ.get("DIABETES_DATA") or SHARED / "data" / DATA_FILE_NAME)
    if not path.is_file():
        pytest.fail(f"training data not found at {path}; set DIABETES_DATA")
    return path


@pytest.fixture(scope="session")
def compat_package() -> Path:
    """The original design's published package (an external test vector; never unpickled)."""
    path = SHARED / "compat" / "diabetes_risk_model-0.1.0-2023_03_17.zip"
    if not path.is_file():
        pytest.fail(f"compat package not found at {path}")
    return path


@pytest.fixture(scope="session")
def smoke_pipeline(diabetes_csv: Path) -> Any:
    """One real pycaret pipeline per test session (2,000 stratified rows, the original setup flags, gbc)."""
    from diabetes_risk_model.training.smoke import train_smoke_pipeline

    return train_smoke_pipeline(diabetes_csv, rows=2000)
