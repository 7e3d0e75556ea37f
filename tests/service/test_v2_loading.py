"""/v2 while the model loads, after it failed, and when the answer table is not precomputed."""

from __future__ import annotations

from pathlib import Path

from diabetes_risk_model.files import sha256_file
from tests.support.inference_protocol import infer_body, random_rows
from tests.support.packages import Artifacts, local_store
from tests.support.service import service_configuration, wait_for_startup
from tests.support.v2_spec import check

V2 = "/v2/models/diabetes_risk_model"
PREDICT = "/api/models/diabetes_risk_model/prediction"
LOADING = {"error": "The model is still loading; retry shortly."}
FAILED = {"error": "The model failed to load; see the service log."}


def test_model_routes_answer_503_while_loading_and_after_a_failure(artifacts: Artifacts, start_service) -> None:
    configuration = service_configuration(
        minio_url="127.0.0.1:9",  # discard port: nothing listens, connections are refused
        minio_access_key="someone",
        minio_secret_key="not-a-real-secret-value",
        keyring_path=str(artifacts.keyring_file),
        storage_attempts=4,
        storage_backoff=0.5,
        storage_backoff_max=0.5,
    )
    client = start_service(configuration, wait=False)
    body = infer_body(random_rows(3, seed=1))
    assert client.get("/v2/health/live").json() == {"live": True}
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json(), ready.headers["retry-after"]) == (503, {"ready": False}, "5")
    model_ready = client.get(f"{V2}/ready")
    assert (model_ready.status_code, model_ready.json()) == (503, {"name": "diabetes_risk_model", "ready": False})
    for response in (client.get(V2), client.post(f"{V2}/infer", json=body)):
        assert (response.status_code, response.json(), response.headers["retry-after"]) == (503, LOADING, "5")
        check(response.json(), "error_response")
    assert client.get("/v2").status_code == 200  # server metadata does not need the model
    wait_for_startup(client)
    live = client.get("/v2/health/live")
    assert (live.status_code, live.json()) == (503, {"live": False})
    assert client.get("/v2/health/ready").status_code == 503
    for response in (client.get(V2), client.post(f"{V2}/infer", json=body)):
        assert (response.status_code, response.json()) == (503, FAILED)


def test_without_the_precomputed_table_a_batch_is_answered_row_for_row(
    artifacts: Artifacts, tmp_path: Path, start_service
) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package),
        keyring_path=str(artifacts.keyring_file),
        precompute=False,
    )
    client = start_service(configuration)
    rows = random_rows(150, seed=13)
    response = client.post(f"{V2}/infer", json=infer_body(rows))
    assert response.status_code == 200, response.text
    assert response.json()["parameters"]["package_sha256"] == sha256_file(artifacts.package)
    existing = [client.post(PREDICT, json={k: v for k, v in row.items() if v is not None}).json() for row in rows]
    assert response.json()["outputs"][0]["data"] == [answer["diabetes_risk"] for answer in existing]
