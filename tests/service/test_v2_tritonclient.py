"""A client nobody here wrote: NVIDIA's tritonclient (HTTP) against the live service's /v2 endpoints."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from diabetes_risk_model.files import sha256_file
from tests.support.inference_protocol import DATATYPES, FIELDS, random_rows
from tests.support.packages import PACKAGE_SEQUENCE, PARAMETERS_VERSION, Artifacts, local_store
from tests.support.v2_spec import check

REPO = Path(__file__).resolve().parents[2]
MODEL = "diabetes_risk_model"
PREDICT = "/api/models/diabetes_risk_model/prediction"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving our app on loopback; yields ``host:port`` (tritonclient's form of a URL)."""
    workdir = tmp_path_factory.mktemp("v2-live")
    configuration = {
        "service_title": "Diabetes Risk Model Service",
        "version": "0.1.0",
        "models": [
            {
                "class_path": "diabetes_risk_model.prediction.model.DiabetesRiskModel",
                "create_endpoint": True,
                "configuration": {
                    "model_parameters_version": PARAMETERS_VERSION,
                    "minio_url": local_store(workdir / "store", artifacts.package),
                    "keyring_path": str(artifacts.keyring_file),
                    "storage_attempts": 1,
                },
            }
        ],
    }
    (workdir / "config.json").write_text(json.dumps(configuration))  # JSON is YAML
    port = free_port()
    env = {**os.environ, "REST_CONFIG": str(workdir / "config.json"), "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "uvicorn", "diabetes_risk_model.service.app:app", "--port", str(port)]
    log_path = workdir / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*argv, "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/ready", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the live service did not become ready"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def client(live: str) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=live)
    yield client
    client.close()


def existing_answers(live: str, rows: list[dict[str, Any]]) -> list[str]:
    answers = []
    for row in rows:
        body = json.dumps({k: v for k, v in row.items() if v is not None}).encode()
        request = urllib.request.Request(
            f"http://{live}{PREDICT}", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answers.append(json.loads(response.read())["diabetes_risk"])
    return answers


def tensors(rows: list[dict[str, Any]], binary_data: bool = False) -> list[triton.InferInput]:
    inputs = []
    for field in FIELDS:
        values = [row[field] for row in rows]
        array = np.array(values, dtype=np.int64 if DATATYPES[field] == "INT64" else np.object_)
        tensor = triton.InferInput(field, [len(rows)], DATATYPES[field])
        tensor.set_data_from_numpy(array, binary_data=binary_data)
        inputs.append(tensor)
    return inputs


def test_health_and_metadata_through_tritonclient(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL)
    assert not client.is_model_ready("another_model")
    server = client.get_server_metadata()
    check(server, "metadata_server_response")
    metadata = client.get_model_metadata(MODEL)
    check(metadata, "metadata_model_response")
    assert [(t["name"], t["datatype"]) for t in metadata["inputs"]] == [(f, DATATYPES[f]) for f in FIELDS]
    assert [(t["name"], t["datatype"], t["shape"]) for t in metadata["outputs"]] == [("diabetes_risk", "BYTES", [-1])]


def test_tritonclient_sends_a_batch_and_reads_the_answers(
    client: triton.InferenceServerClient, live: str, artifacts: Artifacts
) -> None:
    rows = random_rows(500, seed=21, missing=0.0)
    outputs = [triton.InferRequestedOutput("diabetes_risk", binary_data=False)]
    result = client.infer(MODEL, tensors(rows), outputs=outputs, request_id="triton-21")
    response = result.get_response()
    check(response, "inference_response")
    assert response["id"] == "triton-21"
    assert response["parameters"] == {
        "package_sequence": PACKAGE_SEQUENCE,
        "package_sha256": sha256_file(artifacts.package),
    }
    risks = result.as_numpy("diabetes_risk")
    assert risks is not None and risks.shape == (500,)
    assert risks.tolist() == existing_answers(live, rows)


def test_tritonclient_with_default_outputs_reads_the_json_answer(client: triton.InferenceServerClient) -> None:
    """Without requested outputs tritonclient asks for binary outputs (a parameter); the JSON answer still reads."""
    rows = random_rows(20, seed=4, missing=0.0)
    result = client.infer(MODEL, tensors(rows))
    risks = result.as_numpy("diabetes_risk")
    assert risks is not None and set(risks.tolist()) <= {"DIABETES", "NO_DIABETES"} and risks.shape == (20,)


def test_tritonclient_reports_the_refusal_naming_the_input_and_row(client: triton.InferenceServerClient) -> None:
    rows = random_rows(5, seed=8, missing=0.0)
    rows[3]["body_mass_index"] = 10
    with pytest.raises(InferenceServerException) as info:
        client.infer(MODEL, tensors(rows))
    assert info.value.status() == "400"
    assert str(info.value.message()).startswith("Input 'body_mass_index' row 3 has error 'greater_than_equal'")


def test_tritonclients_binary_tensors_are_refused_readably(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.infer(MODEL, tensors(random_rows(3, seed=9, missing=0.0), binary_data=True))
    assert info.value.status() == "400"
    assert "send JSON data" in str(info.value.message())


def test_an_unknown_model_is_404_through_tritonclient(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as info:
        client.get_model_metadata("another_model")
    assert info.value.status() == "404"
    assert "is not served here" in str(info.value.message())
