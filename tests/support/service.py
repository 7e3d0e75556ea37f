"""The service as the tests start it: a one-model configuration, or configuration/docker_rest_config.yaml with a
container's environment, against a store; and how a refusal looks from outside."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rest_model_service.configuration import ServiceConfiguration

from diabetes_risk_model.service.app import load_configuration
from diabetes_risk_model.storage import open_store
from tests.support.packages import BUCKET, CLASS_PATH, OBJECT_NAME, PARAMETERS_VERSION, Artifacts

PREDICT = "/api/models/diabetes_risk_model/prediction"
REPO = Path(__file__).resolve().parents[2]


def service_configuration(**model_settings: Any) -> ServiceConfiguration:
    """A one-model configuration, as configuration/*.yaml write it, without a logging section."""
    settings: dict[str, Any] = {
        "model_parameters_version": PARAMETERS_VERSION,
        "model_files_bucket": BUCKET,
        "storage_attempts": 3,
        "storage_backoff": 0.05,
        "storage_backoff_max": 0.2,
        "storage_timeout": 2.0,
    }
    settings.update(model_settings)
    return ServiceConfiguration(
        service_title="Diabetes Risk Model Service",
        models=[{"class_path": CLASS_PATH, "create_endpoint": True, "configuration": settings}],
    )


def wait_for_startup(client: TestClient, timeout: float = 120.0) -> None:
    """Poll the startup probe until model loading has finished (successfully or not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/api/health/startup").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"service did not finish starting within {timeout}s")


def wait_until_s3_answers(server: Any, timeout: float = 60.0) -> None:
    """Wait until MinIO serves S3 requests (it answers 503 for a moment after /minio/health/ready).

    Without this, the store's urllib3 retry honours MinIO's ``Retry-After: 60`` and the upload stalls
    for a minute (reported to the lead: the store should not respect Retry-After beyond its timeout).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{server.url}/{BUCKET}?location=", timeout=2):
                return
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                return  # 403/404: S3 is answering
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"MinIO at {server.endpoint} did not start answering S3 requests within {timeout}s")


def upload(server: Any, package: Path, bucket: str = BUCKET, object_name: str = OBJECT_NAME) -> None:
    wait_until_s3_answers(server)
    store = open_store(server.endpoint, bucket, server.access_key, server.secret_key)
    store.upload(package, object_name)


def docker_configuration(server: Any, artifacts: Artifacts, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Any:
    """configuration/docker_rest_config.yaml with the environment a container would have."""
    monkeypatch.setenv("MINIO_URL", server.endpoint)
    monkeypatch.setenv("MINIO_ACCESS_KEY", server.access_key)
    monkeypatch.setenv("MINIO_SECRET_KEY", server.secret_key)
    monkeypatch.setenv("MINIO_SECURE", "false")
    monkeypatch.setenv("MODEL_KEYRING", str(artifacts.keyring_file))
    monkeypatch.setenv("MODEL_PARAMETERS_VERSION", PARAMETERS_VERSION)
    # The pins a deployment passes (deploy's configs read them); the pinning tests override the settings.
    monkeypatch.setenv("MODEL_PACKAGE_SHA256", "")
    monkeypatch.setenv("MODEL_MIN_SEQUENCE", "0")
    configuration = load_configuration(REPO / "configuration" / "docker_rest_config.yaml")
    configuration.logging = None  # keep pytest's log capture
    settings = configuration.models[0].configuration or {}
    settings.update({"storage_attempts": 3, "storage_backoff": 0.1, "storage_backoff_max": 0.3, "storage_timeout": 2})
    settings.update(overrides)
    configuration.models[0].configuration = settings
    return configuration


def assert_refused(client: TestClient) -> None:
    assert client.get("/api/health/startup").status_code == 200
    assert client.get("/api/health").json() == {"health_status": "NOT_HEALTHY"}
    assert client.get("/api/health/ready").json() == {"readiness_status": "REFUSING_TRAFFIC"}
    assert client.post(PREDICT, json={"body_mass_index": 30}).status_code == 503
