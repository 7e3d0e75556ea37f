"""Fixtures for the service tests: a real pycaret pipeline, a real signed package, real stores.

The pipeline is trained once per session on 2,000 stratified rows of the real
CSV with the original design's setup (outliers removed, normalised, feature
selection, multicollinearity removed, session 42) and a ``gbc`` model, so that
every load in these tests unpickles what production unpickles. In that sample
only the API's four inputs vary (every other column is held at its median), so
feature selection keeps exactly BMI, GeneralHealth, Age and Income, as the full
run does and as the service's feature check requires. A second pipeline, trained
the same way with PhysicalHealth varying instead of GeneralHealth, ignores an
API field (the fast model's defect in issue 10).
"""

from __future__ import annotations

import json
import os
import pickle
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from rest_model_service.configuration import ServiceConfiguration

import diabetes_risk_model
from diabetes_risk_model.prediction.table import API_FEATURES
from diabetes_risk_model.signing import Keyring, build_package
from diabetes_risk_model.signing.keys import Key

MODEL_NAME = "diabetes_risk_model"
PARAMETERS_VERSION = "2026_11_22"
OBJECT_NAME = f"{MODEL_NAME}-{diabetes_risk_model.__version__}-{PARAMETERS_VERSION}.zip"
BUCKET = "model-files"
CLASS_PATH = "diabetes_risk_model.prediction.model.DiabetesRiskModel"


def train_pipeline_on(csv: Path, varying: tuple[str, ...], rows: int = 2000, seed: int = 42) -> Any:
    """The smoke training (fast parameters, ``gbc``) on a sample where only the *varying* features vary."""
    from dataclasses import replace

    from diabetes_risk_model.training.data import load_data, rename_columns, stratified_sample
    from diabetes_risk_model.training.params import FAST, TARGET
    from diabetes_risk_model.training.pipeline import setup_experiment

    params = replace(FAST, sample_rows=rows, n_jobs=1, session_id=seed)
    frame = stratified_sample(rename_columns(load_data(csv)), rows, seed).copy()
    for column in frame.columns:
        if column not in varying and column != TARGET:
            frame[column] = float(frame[column].median())
    experiment = setup_experiment(frame, params, log_path=None).model
    model = experiment.create_model(params.model_id, cross_validation=False, verbose=False)
    return experiment.finalize_model(model)


def selected_features(pipeline: Any) -> list[str]:
    return [str(name) for name in pipeline.steps[-1][1].feature_names_in_]


@dataclass(frozen=True)
class Artifacts:
    """What the session builds once: the pipeline, its pickle, keys and signed packages."""

    pipeline: Any
    model_pickle: Path
    package: Path  # signed with the ECDSA P-256 key in ``keyring_file``, sequence 10
    hmac_package: Path  # signed with the HMAC secret ``hmac_secret``
    keyring_file: Path  # public view only
    hmac_secret: str
    root: Path
    signing: Keyring  # the private keyring (the "leaked key" in attack tests)

    def package_with(self, directory: Path, *, sequence: int, model_pickle: Path | None = None) -> Path:
        """Another validly signed package for the same name and versions, with this *sequence*."""
        return build_package(
            directory,
            name=MODEL_NAME,
            version=diabetes_risk_model.__version__,
            parameters_version=PARAMETERS_VERSION,
            model_pickle=model_pickle or self.model_pickle,
            extra_members={},
            keyring=self.signing,
            sequence=sequence,
        )


PACKAGE_SEQUENCE = 10


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
    package = build_package(
        root / "signed",
        name=MODEL_NAME,
        version=diabetes_risk_model.__version__,
        parameters_version=PARAMETERS_VERSION,
        model_pickle=model_pickle,
        extra_members={},
        keyring=signing,
        sequence=PACKAGE_SEQUENCE,
    )
    hmac_secret = secrets.token_urlsafe(32)
    hmac_package = build_package(
        root / "hmac",
        name=MODEL_NAME,
        version=diabetes_risk_model.__version__,
        parameters_version=PARAMETERS_VERSION,
        model_pickle=model_pickle,
        extra_members={},
        keyring=Keyring.from_settings(hmac_secret=hmac_secret, hmac_key_id="svc-hmac"),
    )
    return Artifacts(pipeline, model_pickle, package, hmac_package, keyring_file, hmac_secret, root, signing)


class MarkerPayload:
    """Unpickling this creates a marker file: proof, if the file exists, that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.marker), "w"))


def tampered_copy(package: Path, destination: Path) -> Path:
    """The signed package with one byte changed in the middle of the file (inside the pickle member's data)."""
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x01
    destination.write_bytes(bytes(data))
    return destination


def replaced_pickle_copy(package: Path, destination: Path, marker: Path) -> Path:
    """The signed package with its pickle member replaced by one that would create *marker* if unpickled."""
    payload = pickle.dumps(MarkerPayload(marker))
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(destination, "w") as target:
        replaced = False
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".pkl"):
                data, replaced = payload, True
            target.writestr(info, data)
    assert replaced, "the package has no .pkl member to tamper with"
    return destination


def malicious_signed_package(directory: Path, marker: Path, keyring: Keyring) -> Path:
    """A package that is correctly signed but whose pickle would create *marker* (a poisoned training job)."""
    pickle_path = directory / "evil.pkl"
    directory.mkdir(parents=True, exist_ok=True)
    pickle_path.write_bytes(pickle.dumps(MarkerPayload(marker)))
    return build_package(
        directory / "out",
        name=MODEL_NAME,
        version=diabetes_risk_model.__version__,
        parameters_version=PARAMETERS_VERSION,
        model_pickle=pickle_path,
        extra_members={},
        keyring=keyring,
    )


def local_store(root: Path, package: Path, object_name: str = OBJECT_NAME) -> str:
    """A file:// store holding *package* in the standard bucket; returns its URL."""
    bucket = root / BUCKET
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / object_name).write_bytes(package.read_bytes())
    return root.resolve().as_uri()


def pin_environment(patch: pytest.MonkeyPatch, package: Path, sequence: int = 10) -> None:
    """The variables every shipped config reads to pin the package: its file digest and minimum sequence."""
    from diabetes_risk_model.signing.hashing import sha256_file

    patch.setenv("MODEL_PACKAGE_SHA256", sha256_file(package))
    patch.setenv("MODEL_MIN_SEQUENCE", str(sequence))


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


# -- a live uvicorn service ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    env = {
        **os.environ,
        "REST_CONFIG": str(workdir / "config.json"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
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
