"""Fixtures shared by the test areas that load a model: real pipelines, a real signed package, the service.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rest_model_service.configuration import ServiceConfiguration

from diabetes_risk_model.prediction.schemas import API_FEATURES
from diabetes_risk_model.signing import Key, Keyring
from tests.support.minio_server import free_port
from tests.support.packages import (
    PACKAGE_SEQUENCE,
    PARAMETERS_VERSION,
    Artifacts,
    local_store,
    selected_features,
    signed_package,
    train_pipeline_on,
)
from tests.support.service import REPO, wait_for_startup


@pytest.fixture(scope="session")
def api_pipeline(diabetes_csv: Path) -> Any:
    """A real pycaret pipeline whose selected features are exactly the API's inputs."""
    pipeline = train_pipeline_on(diabetes_csv, API_FEATURES)
    assert selected_features(pipeline) == list(API_FEATURES), selected_features(pipeline)
    return pipeline


@pytest.fixture(scope="session")
def ignoring_pipeline(diabetes_csv: Path) -> Any:
    """A real pycaret pipeline that ignores GeneralHealth and uses PhysicalHealth instead."""
    pipeline = train_pipeline_on(diabetes_csv, ("BMI", "PhysicalHealth", "Age", "Income"))
    assert "GeneralHealth" not in selected_features(pipeline), selected_features(pipeline)
    return pipeline


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory, api_pipeline: Any) -> Artifacts:
    root = tmp_path_factory.mktemp("service-artifacts")
    pipeline = api_pipeline
    model_pickle = root / "model.pkl"
    model_pickle.write_bytes(pickle.dumps(pipeline, protocol=pickle.HIGHEST_PROTOCOL))

    signing = Keyring([Key.generate("service-tests", "ecdsa-p256")])
    keyring_file = signing.public().save(root / "keys" / "public-keyring.json")
    package = signed_package(root / "signed", model_pickle, signing, sequence=PACKAGE_SEQUENCE)
    return Artifacts(pipeline, model_pickle, package, keyring_file, root, signing)


@pytest.fixture
def model_settings(artifacts: Artifacts, tmp_path: Path) -> dict[str, Any]:
    """A model configuration serving the session's signed package from a fresh ``file://`` store, one attempt."""
    return {
        "model_parameters_version": PARAMETERS_VERSION,
        "minio_url": local_store(tmp_path / "store", artifacts.package),
        "keyring_path": str(artifacts.keyring_file),
        "storage_attempts": 1,
    }


@pytest.fixture
def start_service() -> Iterator[Callable[..., TestClient]]:
    """Build our app for a configuration, start it (its lifespan starts loading) and return a client.

    At teardown it waits for loading to finish before stopping the app, so no loader thread outlives its test.
    """
    from diabetes_risk_model.service import create_service

    clients: list[TestClient] = []

    def start(configuration: ServiceConfiguration, wait: bool = True) -> TestClient:
        app: FastAPI = create_service(configuration)
        client = TestClient(app)
        client.__enter__()  # runs the lifespan, as uvicorn does
        clients.append(client)
        if wait:
            wait_for_startup(client)
        return client

    yield start
    for client in clients:
        wait_for_startup(client, timeout=300)
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def live_service(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn running our app (metrics on, docs on by default) on loopback, as `make serve` runs it; yields its URL."""
    workdir = tmp_path_factory.mktemp("live")
    store = local_store(workdir / "store", artifacts.package)
    config = {
        "service_title": "Diabetes Risk Model Service",
        "version": "0.1.0",
        "metrics": {"enabled": True},
        "models": [
            {
                "class_path": "diabetes_risk_model.prediction.model.DiabetesRiskModel",
                "create_endpoint": True,
                "configuration": {
                    "model_parameters_version": PARAMETERS_VERSION,
                    "minio_url": store,
                    "keyring_path": str(artifacts.keyring_file),
                    "storage_attempts": 1,
                },
            }
        ],
    }
    (workdir / "config.json").write_text(json.dumps(config))  # JSON is YAML
    port = free_port()
    env = {**os.environ, "REST_CONFIG": str(workdir / "config.json"), "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "uvicorn", "diabetes_risk_model.service.app:app", "--port", str(port)]
    log = (workdir / "uvicorn.log").open("wb")
    process = subprocess.Popen([*argv, "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, (workdir / "uvicorn.log").read_text()
            try:
                with urllib.request.urlopen(f"{url}/api/health/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the live service did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
