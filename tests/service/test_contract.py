"""service_contract.yaml: it must be what the app serves, and the app must honour it (zero 5xx)."""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from diabetes_risk_model.service.app import create_service, load_configuration
from diabetes_risk_model.service.contract import generate_contract, render
from tests.support.packages import PARAMETERS_VERSION, Artifacts, local_store, pin_environment
from tests.support.service import wait_for_startup

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "service_contract.yaml"


@pytest.fixture(scope="module")
def local_configuration(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """configuration/rest_config.yaml, run from a directory whose ./store holds the test package."""
    workdir = tmp_path_factory.mktemp("contract")
    local_store(workdir / "store", artifacts.package)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        patch.setenv("MODEL_PARAMETERS_VERSION", PARAMETERS_VERSION)
        patch.setenv("MODEL_KEYRING", str(artifacts.keyring_file))
        pin_environment(patch, artifacts.package)
        configuration = load_configuration(REPO / "configuration" / "rest_config.yaml")
        configuration.logging = None
        yield configuration


def test_contract_is_not_stale(local_configuration: Any) -> None:
    expected = render(generate_contract(local_configuration))
    current = CONTRACT.read_text(encoding="utf-8")
    if current != expected:
        diff = "".join(difflib.unified_diff(current.splitlines(True), expected.splitlines(True), "committed", "app"))
        pytest.fail(f"service_contract.yaml is stale; regenerate it with `make contract`:\n{diff[:4000]}")


def test_contract_describes_our_error_answers() -> None:
    document = schemathesis.openapi.from_path(CONTRACT).raw_schema
    prediction = document["paths"]["/api/models/diabetes_risk_model/prediction"]["post"]["responses"]
    assert {"200", "400", "415", "503"} <= set(prediction) and "422" not in prediction
    metadata = document["paths"]["/api/models/{model_qualified_name}/metadata"]["get"]["responses"]
    assert "404" in metadata
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.fixture(scope="module")
def contract_app(local_configuration: Any) -> Iterator[FastAPI]:
    app = create_service(local_configuration)
    with TestClient(app) as client:
        wait_for_startup(client)
        assert client.get("/api/health/ready").status_code == 200
        yield app


OPERATIONS = [result.ok() for result in schemathesis.openapi.from_path(CONTRACT).get_all_operations()]
# Data that does not fit the contract only exists for operations that constrain their input (the prediction body).
CASES = [(op, GenerationMode.POSITIVE) for op in OPERATIONS] + [
    (op, GenerationMode.NEGATIVE) for op in OPERATIONS if op.method.upper() == "POST"
]


@pytest.mark.parametrize(("operation", "mode"), CASES, ids=lambda v: getattr(v, "label", str(v)))
def test_contract_zero_server_errors(contract_app: FastAPI, operation: Any, mode: GenerationMode) -> None:
    """Every operation of the committed contract, with data that fits it and data that does not: never a 5xx.

    Valid data must also get an answer that conforms to the contract.
    """

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        response = case.call(app=contract_app)
        assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}"
        if mode is GenerationMode.POSITIVE:
            case.validate_response(response, checks=[response_schema_conformance])
            if operation.path.endswith("/prediction"):
                assert response.status_code == 200, response.text
        elif operation.path.endswith("/prediction"):
            assert 400 <= response.status_code < 500, response.text

    check()


# -- the full schemathesis run against the live service ------------------------------------------------


def test_schemathesis_every_check_and_phase_finds_nothing(live_service: str, tmp_path: Path) -> None:
    """`schemathesis run --checks all` with every phase against the live service: zero failures."""
    argv = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        str(CONTRACT),
        "--url",
        live_service,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        "1",
        "--generation-database",
        "none",
        "--workers",
        "1",
    ]
    started = time.monotonic()
    env = {**os.environ, "NO_COLOR": "1"}
    # Run outside the work tree: schemathesis keeps state in ./.schemathesis/.
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    elapsed = time.monotonic() - started
    summary = result.stdout[result.stdout.find("SUMMARY") :]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", summary)
    assert cases is not None and cases.group(1) == cases.group(2) and int(cases.group(1)) > 200, summary
    assert "failed" not in summary.lower() and "Coverage" in summary and "Fuzzing" in summary
    print(f"schemathesis: {cases.group(1)} cases, 0 failures in {elapsed:.1f}s")


def test_root_answers_json_and_reports_the_docs(live_service: str) -> None:
    with urllib.request.urlopen(f"{live_service}/", timeout=5) as response:
        assert response.headers["content-type"] == "application/json"
        assert json.loads(response.read()) == {
            "title": "Diabetes Risk Model Service",
            "version": "0.1.0",
            "openapi": "/openapi.json",
            "docs": "/docs",
            "redoc": "/redoc",
            "metrics": "/metrics",
        }
    for page in ("/docs", "/redoc"):
        with urllib.request.urlopen(f"{live_service}{page}", timeout=5) as response:
            assert response.status == 200 and response.headers["content-type"].startswith("text/html")
