"""The service against a real MinIO (built with go install, started by the lead's fixture).

Configured through configuration/docker_rest_config.yaml itself, with the
MinIO endpoint and credentials in the environment, as a container gets them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.prediction.schemas import DiabetesRisk
from tests.support.inputs import pipeline_frame, sample_inputs
from tests.support.packages import (
    OBJECT_NAME,
    Artifacts,
    replaced_pickle_copy,
    tampered_copy,
)
from tests.support.service import PREDICT, assert_refused, docker_configuration, upload, wait_for_startup


def test_upload_ready_and_http_predictions_equal_the_pipelines(
    minio_server, artifacts: Artifacts, monkeypatch, start_service
) -> None:
    upload(minio_server, artifacts.package)
    client = start_service(docker_configuration(minio_server, artifacts, monkeypatch))
    assert client.get("/api/health/ready").status_code == 200

    inputs = sample_inputs(200, seed=3)
    expected = [DiabetesRisk.map(float(y)) for y in artifacts.pipeline.predict(pipeline_frame(inputs))]
    got = []
    for item in inputs:
        response = client.post(PREDICT, json=item.model_dump(mode="json", exclude_none=True))
        assert response.status_code == 200, response.text
        got.append(DiabetesRisk(response.json()["diabetes_risk"]))
    assert got == expected
    assert set(got) == set(DiabetesRisk)

    for body, field in (({"body_mass_index": 10}, "body_mass_index"), ({"income": "LOTS"}, "income")):
        response = client.post(PREDICT, json=body)
        assert response.status_code == 400
        assert f"Field '{field}'" in " ".join(response.json()["messages"])


def test_minio_down_at_start_then_started_becomes_ready(
    minio_server, artifacts: Artifacts, monkeypatch, start_service, caplog
) -> None:
    upload(minio_server, artifacts.package)
    minio_server.stop()
    configuration = docker_configuration(
        minio_server, artifacts, monkeypatch, storage_attempts=200, storage_backoff=0.1, storage_backoff_max=0.3
    )
    with caplog.at_level(logging.INFO):
        client = start_service(configuration, wait=False)
        deadline = time.monotonic() + 60
        while "waiting for storage" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "waiting for storage" in caplog.text
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health/ready").status_code == 503
        assert client.post(PREDICT, json={}).status_code == 503
        minio_server.start()
        wait_for_startup(client)
    assert client.get("/api/health/ready").status_code == 200
    assert client.get("/api/health").status_code == 200
    assert client.post(PREDICT, json={"body_mass_index": 40}).status_code == 200
    assert minio_server.secret_key not in caplog.text


def test_minio_stopped_after_load_keeps_serving(minio_server, artifacts: Artifacts, monkeypatch, start_service) -> None:
    upload(minio_server, artifacts.package)
    client = start_service(docker_configuration(minio_server, artifacts, monkeypatch))
    assert client.get("/api/health/ready").status_code == 200
    minio_server.stop()
    for bmi in (18, 25, 33, 47):
        response = client.post(PREDICT, json={"body_mass_index": bmi, "age": "FORTY_TO_FORTY_FOUR"})
        assert response.status_code == 200
    assert client.get("/api/health/ready").status_code == 200
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(
    "case", ["wrong_credentials", "missing_bucket", "missing_object", "changed_byte", "replaced_pickle"]
)
def test_permanent_failures_leave_the_service_not_ready(
    case: str, minio_server, artifacts: Artifacts, monkeypatch, start_service, caplog, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled.marker"
    overrides: dict[str, Any] = {}
    expected_log = ""
    if case == "wrong_credentials":
        upload(minio_server, artifacts.package)
        overrides["minio_secret_key"] = "wrong-" + minio_server.secret_key[::-1]
        expected_log = "StorageAccessDenied"
    elif case == "missing_bucket":
        upload(minio_server, artifacts.package)
        overrides["model_files_bucket"] = "no-such-bucket"
        expected_log = "BucketNotFound"
    elif case == "missing_object":
        upload(minio_server, artifacts.package, object_name="diabetes_risk_model-0.1.0-1999_01_01.zip")
        expected_log = "ObjectNotFound"
    elif case == "changed_byte":
        upload(minio_server, tampered_copy(artifacts.package, tmp_path / "tampered.zip"))
        expected_log = f"model package {OBJECT_NAME} refused, nothing was unpickled"
    else:
        upload(minio_server, replaced_pickle_copy(artifacts.package, tmp_path / "replaced.zip", marker))
        expected_log = f"model package {OBJECT_NAME} refused, nothing was unpickled"
    configuration = docker_configuration(minio_server, artifacts, monkeypatch, **overrides)
    with caplog.at_level(logging.INFO):
        client = start_service(configuration)
    assert_refused(client)
    assert not marker.exists()
    assert expected_log in caplog.text
    assert "waiting for storage" not in caplog.text, "a permanent failure must not be retried"
    assert minio_server.secret_key not in caplog.text
    assert minio_server.secret_key[::-1] not in caplog.text
