"""The Open Inference Protocol (V2) next to the existing API, in-process: shapes, answers, refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.service._inference_protocol import MAX_BODY_BYTES, MAX_ROWS
from diabetes_risk_model.service.app import create_service
from tests.support.inference_protocol import DATATYPES, FIELDS, infer_body, random_rows
from tests.support.packages import PACKAGE_SEQUENCE, Artifacts, local_store
from tests.support.service import service_configuration, wait_for_startup
from tests.support.v2_spec import check

V2 = "/v2/models/diabetes_risk_model"
PREDICT = "/api/models/diabetes_risk_model/prediction"


@pytest.fixture(scope="module")
def client(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store = local_store(tmp_path_factory.mktemp("v2-store"), artifacts.package)
    app = create_service(service_configuration(minio_url=store, keyring_path=str(artifacts.keyring_file)))
    with TestClient(app) as test_client:
        wait_for_startup(test_client)
        assert test_client.get("/api/health/ready").status_code == 200
        yield test_client


def existing_answers(client: TestClient, rows: list[dict[str, Any]]) -> list[str]:
    answers = []
    for row in rows:
        response = client.post(PREDICT, json={k: v for k, v in row.items() if v is not None})
        assert response.status_code == 200, response.text
        answers.append(response.json()["diabetes_risk"])
    return answers


# -- health and metadata ------------------------------------------------------------------------------


def test_server_metadata_and_health_answer_the_specs_objects(client: TestClient) -> None:
    for path in ("/v2", "/v2/"):
        metadata = client.get(path)
        assert metadata.status_code == 200
        check(metadata.json(), "metadata_server_response")
        assert metadata.json() == {"name": "Diabetes Risk Model Service", "version": "0.1.0", "extensions": []}
    live, ready, model_ready = client.get("/v2/health/live"), client.get("/v2/health/ready"), client.get(f"{V2}/ready")
    assert (live.status_code, ready.status_code, model_ready.status_code) == (200, 200, 200)
    check(live.json(), "live_server_response")
    check(ready.json(), "ready_server_response")
    check(model_ready.json(), "ready_model_response")
    assert (live.json(), ready.json()) == ({"live": True}, {"ready": True})
    assert model_ready.json() == {"name": "diabetes_risk_model", "ready": True}


def test_model_metadata_names_every_input_and_the_output(client: TestClient) -> None:
    response = client.get(V2)
    assert response.status_code == 200
    check(response.json(), "metadata_model_response")
    assert response.json() == {
        "name": "diabetes_risk_model",
        "platform": "pycaret",
        "inputs": [{"name": f, "datatype": DATATYPES[f], "shape": [-1]} for f in FIELDS],
        "outputs": [{"name": "diabetes_risk", "datatype": "BYTES", "shape": [-1]}],
    }


# -- answers ----------------------------------------------------------------------------------------


def test_a_batch_is_answered_row_for_row_as_the_existing_api(client: TestClient, artifacts: Artifacts) -> None:
    rows = random_rows(400, seed=7, missing=0.0)
    body = infer_body(rows, id="batch-7")
    check(body, "inference_request")
    response = client.post(f"{V2}/infer", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    check(answer, "inference_response")
    assert answer["model_name"] == "diabetes_risk_model" and answer["id"] == "batch-7"
    assert answer["parameters"] == {
        "package_sequence": PACKAGE_SEQUENCE,
        "package_sha256": sha256_file(artifacts.package),
    }
    [output] = answer["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("diabetes_risk", "BYTES", [400])
    assert output["data"] == existing_answers(client, rows)
    assert set(output["data"]) == {"DIABETES", "NO_DIABETES"}, "a batch that cannot tell the answers apart"


def test_null_elements_are_not_given_for_their_row(client: TestClient) -> None:
    """An extension of the protocol's tensor data (which has no null): the existing API's null, per row."""
    rows = random_rows(300, seed=5, missing=0.3)
    response = client.post(f"{V2}/infer", json=infer_body(rows))
    assert response.status_code == 200, response.text
    check(response.json(), "inference_response")
    assert response.json()["outputs"][0]["data"] == existing_answers(client, rows)


def test_left_out_inputs_are_not_given_for_every_row(client: TestClient) -> None:
    rows = [{**row, "general_health": None, "income": None} for row in random_rows(60, seed=3, missing=0.0)]
    response = client.post(f"{V2}/infer", json=infer_body(rows, fields=("body_mass_index", "age")))
    assert response.status_code == 200, response.text
    assert "id" not in response.json()
    assert response.json()["outputs"][0]["data"] == existing_answers(client, rows)


def test_whole_number_floats_are_accepted_as_the_existing_api_accepts_them(client: TestClient) -> None:
    """In data, as the existing API's BMI; in shape, as JSON Schema's integer (the spec's shape is integers)."""
    body = {"inputs": [{"name": "body_mass_index", "shape": [2.0], "datatype": "INT32", "data": [25.0, 40]}]}
    response = client.post(f"{V2}/infer", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == existing_answers(
        client, [{"body_mass_index": 25.0}, {"body_mass_index": 40}]
    )


def test_the_largest_batch_is_answered_and_one_more_row_is_refused(client: TestClient) -> None:
    rows = random_rows(MAX_ROWS, seed=11)
    response = client.post(f"{V2}/infer", json=infer_body(rows))
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [MAX_ROWS]
    too_many = client.post(f"{V2}/infer", json=infer_body(random_rows(MAX_ROWS + 1, seed=11)))
    assert too_many.status_code == 400
    assert too_many.json() == {
        "error": f"Input 'body_mass_index' has shape [{MAX_ROWS + 1}]; N must be from 1 to {MAX_ROWS}."
    }


# -- refusals ----------------------------------------------------------------------------------------


def one(name: str, data: list[Any], datatype: str | None = None, **extra: Any) -> dict[str, Any]:
    tensor = {"name": name, "shape": [len(data)], "datatype": datatype or DATATYPES[name], "data": data}
    return {"inputs": [{**tensor, **extra}]}


# (body, the error type the existing API gives the same value, a fragment the V2 error must contain)
ELEMENT_ERRORS = [
    (one("body_mass_index", [30, 40, 10]), "greater_than_equal", "Input 'body_mass_index' row 2 has error"),
    (one("body_mass_index", [61]), "less_than_equal", "Input 'body_mass_index' row 0 has error"),
    (one("body_mass_index", [25, 25.5]), "int_from_float", "Input 'body_mass_index' row 1 has error"),
    (one("body_mass_index", ["25"]), "int_type", "Input 'body_mass_index' row 0 has error"),
    (one("body_mass_index", [True]), "int_type", "Input 'body_mass_index' row 0 has error"),
    (one("general_health", ["GOOD", "SPLENDID"]), "enum", "Input 'general_health' row 1 has error"),
    (one("age", [3]), "enum", "Input 'age' row 0 has error"),
    (one("income", [None, ""]), "enum", "Input 'income' row 1 has error"),
    (one("income", [["LESS_THAN_10K"]]), "enum", "Input 'income' row 0 has error"),
]


@pytest.mark.parametrize(("body", "error_type", "fragment"), ELEMENT_ERRORS)
def test_a_value_the_existing_api_refuses_refuses_the_whole_batch(
    client: TestClient, body: dict[str, Any], error_type: str, fragment: str
) -> None:
    response = client.post(f"{V2}/infer", json=body)
    assert response.status_code == 400
    assert list(response.json()) == ["error"]
    message = response.json()["error"]
    assert fragment in message and f"'{error_type}'" in message, message
    tensor = body["inputs"][0]
    row = int(fragment.split(" row ")[1].split()[0])
    existing = client.post(PREDICT, json={tensor["name"]: tensor["data"][row]})
    assert existing.status_code == 400
    assert f"has error '{error_type}'" in existing.json()["messages"][0], existing.json()


BMI = {"name": "body_mass_index", "shape": [1], "datatype": "INT64", "data": [30]}
REQUEST_ERRORS = [
    ({"inputs": [{**BMI, "name": "bmi"}]}, 'Unknown input "bmi"; this model\'s inputs are body_mass_index, '),
    ({"inputs": [BMI, BMI]}, "Input 'body_mass_index' is given twice."),
    ({"inputs": [{**BMI, "datatype": "FP32"}]}, "Input 'body_mass_index' has datatype \"FP32\"; it must be INT64 or"),
    (one("age", ["FORTY_TO_FORTY_FOUR"], "INT64"), "Input 'age' has datatype \"INT64\"; it must be BYTES."),
    ({"inputs": [{**BMI, "shape": [1, 1]}]}, "Input 'body_mass_index' must have shape [N] (one whole number)"),
    ({"inputs": [{**BMI, "shape": [0], "data": []}]}, "Input 'body_mass_index' has shape [0]; N must be from 1"),
    ({"inputs": [{**BMI, "shape": [2]}]}, "Input 'body_mass_index' has shape [2] but its data has 1 elements."),
    ({"inputs": [BMI, one("age", [None, None])["inputs"][0]]}, "Input 'age' has shape [2] but input 'body_mass_index'"),
    ({"inputs": [{k: v for k, v in BMI.items() if k != "datatype"}]}, "Input 'body_mass_index' has no 'datatype'."),
    ({"inputs": [{**BMI, "dtype": "INT64"}]}, "Input 'body_mass_index' has unknown field \"dtype\""),
    ({"inputs": [{**BMI, "parameters": {"binary_data_size": 8}}]}, "uses binary tensor data"),
    ({"inputs": [{**BMI, "parameters": {"x": [1]}}]}, "Parameter \"x\" of input 'body_mass_index' must be a string"),
    ({"inputs": []}, "The request needs 'inputs'"),
    ({}, "The request needs 'inputs'"),
    ({"inputs": [BMI], "id": 42}, "The request 'id' must be a string."),
    ({"inputs": [BMI], "outputs": [{"name": "risk"}]}, 'Unknown output "risk"; this model\'s output is'),
    ({"inputs": [BMI], "outputs": {"name": "diabetes_risk"}}, "The request 'outputs' must be an array."),
    ({"inputs": [BMI], "model": "x"}, 'The inference request has unknown field "model"'),
    ([BMI], "The inference request must be a JSON object."),
]


@pytest.mark.parametrize(("body", "fragment"), REQUEST_ERRORS)
def test_a_malformed_request_is_refused_naming_what_is_wrong(client: TestClient, body: Any, fragment: str) -> None:
    response = client.post(f"{V2}/infer", json=body)
    assert response.status_code == 400, response.text
    assert list(response.json()) == ["error"] and fragment in response.json()["error"], response.json()
    check(response.json(), "error_response")


@pytest.mark.parametrize("raw", [b"", b"{", b"[" * 100_000, b'{"inputs": [\xff]}'])
def test_a_body_that_is_not_json_is_refused_with_400(client: TestClient, raw: bytes) -> None:
    response = client.post(f"{V2}/infer", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("The request body is not valid JSON")


def test_binary_tensor_data_is_refused_with_a_readable_error(client: TestClient) -> None:
    body = json.dumps(one("body_mass_index", [30])).encode()
    headers = {"Inference-Header-Content-Length": str(len(body))}
    response = client.post(f"{V2}/infer", content=body + b"\x00" * 8, headers=headers)
    assert response.status_code == 400
    assert "Binary tensor data" in response.json()["error"]


def test_a_body_over_the_limit_answers_413(client: TestClient) -> None:
    response = client.post(f"{V2}/infer", content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.json() == {"error": f"The request body is over {MAX_BODY_BYTES} bytes."}


def test_unknown_models_paths_and_methods_answer_the_protocols_error(client: TestClient) -> None:
    for path in ("/v2/models/other", "/v2/models/other/ready", "/v2/models/other/infer"):
        response = client.get(path) if not path.endswith("infer") else client.post(path, json=one("age", [None]))
        assert response.status_code == 404
        assert response.json() == {
            "error": "Model 'other' is not served here; this service serves 'diabetes_risk_model'."
        }
    assert client.get("/v2/repository/index").json() == {"error": "No endpoint at /v2/repository/index."}
    wrong = client.get(f"{V2}/infer")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert wrong.json() == {"error": f"GET is not allowed on {V2}/infer."}
    assert client.delete("/v2/health/ready").status_code == 405


def test_openapi_lists_the_v2_operations(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v2", "/v2/health/live", "/v2/health/ready", V2, f"{V2}/ready", f"{V2}/infer"} <= set(paths)
    infer = paths[f"{V2}/infer"]["post"]
    schema = infer["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["inputs"] and schema["additionalProperties"] is False
    assert {"200", "400", "413", "503"} <= set(infer["responses"]) and "422" not in infer["responses"]
    assert not any(path.startswith("/v2/{") for path in paths)
