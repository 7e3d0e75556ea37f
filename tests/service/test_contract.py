"""service_contract.yaml: it must be what the app serves, and the app must honour it (zero 5xx)."""

from __future__ import annotations

import difflib
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
from tests.service.conftest import PARAMETERS_VERSION, Artifacts, local_store, wait_for_startup

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
    assert {"200", "400", "503"} <= set(prediction) and "422" not in prediction
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
