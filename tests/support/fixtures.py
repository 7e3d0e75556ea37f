"""Fixtures shared by the test areas that load a model: real pipelines, a real signed package, the service.

Registered for the whole suite by ``tests/conftest.py`` (``pytest_plugins``).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rest_model_service.configuration import ServiceConfiguration

from diabetes_risk_model.prediction.schemas import API_FEATURES
from diabetes_risk_model.signing import Key, Keyring
from tests.support.packages import (
    PACKAGE_SEQUENCE,
    PARAMETERS_VERSION,
    Artifacts,
    local_store,
    selected_features,
    signed_package,
    train_pipeline_on,
)
from tests.support.service import wait_for_startup


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
    """Build our app for a configuration and return a client; waits for loading to finish at teardown.

    Waiting matters: the engine keeps status in a process-wide singleton, and a
    loader thread still running would report into the next test's app.
    """
    from diabetes_risk_model.service.app import create_service

    clients: list[TestClient] = []

    def start(configuration: ServiceConfiguration, wait: bool = True) -> TestClient:
        app: FastAPI = create_service(configuration)
        client = TestClient(app)
        clients.append(client)
        if wait:
            wait_for_startup(client)
        return client

    yield start
    for client in clients:
        wait_for_startup(client, timeout=300)
        client.close()
