"""Our app around rest_model_service: bad input, unknown models, readiness, health, OpenAPI."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.service import create_service, load_configuration
from diabetes_risk_model.service._errors import describe_validation_error
from tests.support.packages import PARAMETERS_VERSION, Artifacts, local_store, pin_environment, replaced_pickle_copy
from tests.support.service import service_configuration, wait_for_startup

PREDICT = "/api/models/diabetes_risk_model/prediction"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ready_client(artifacts: Artifacts, tmp_path: Path, start_service):
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(artifacts.keyring_file)
    )
    client = start_service(configuration)
    assert client.get("/api/health/ready").status_code == 200
    return client


def test_health_endpoints_when_ready(ready_client) -> None:
    assert ready_client.get("/api/health").json() == {"health_status": "HEALTHY"}
    assert ready_client.get("/api/health/ready").json() == {"readiness_status": "ACCEPTING_TRAFFIC"}
    assert ready_client.get("/api/health/startup").json() == {"startup_status": "STARTED"}


def test_prediction_round_trip(ready_client, artifacts: Artifacts) -> None:
    body = {"body_mass_index": 35, "general_health": "POOR", "age": "SIXTY_TO_SIXTY_FOUR", "income": "LESS_THAN_10K"}
    response = ready_client.post(PREDICT, json=body)
    assert response.status_code == 200
    assert response.json()["diabetes_risk"] in {"DIABETES", "NO_DIABETES"}
    assert ready_client.post(PREDICT, json={}).status_code == 200  # everything imputed


def test_models_list_and_metadata(ready_client) -> None:
    models = ready_client.get("/api/models").json()["models"]
    assert [m["qualified_name"] for m in models] == ["diabetes_risk_model"]
    metadata = ready_client.get("/api/models/diabetes_risk_model/metadata")
    assert metadata.status_code == 200
    assert set(metadata.json()["input_schema"]["properties"]) == {"body_mass_index", "general_health", "age", "income"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body_mass_index": 10}, "body_mass_index"),
        ({"body_mass_index": 61}, "body_mass_index"),
        ({"body_mass_index": "heavy"}, "body_mass_index"),
        ({"body_mass_index": 25.5}, "body_mass_index"),
        ({"general_health": "SPLENDID"}, "general_health"),
        ({"age": "TWELVE"}, "age"),
        ({"income": 3}, "income"),
        ({"bmi": 25}, "bmi"),
    ],
)
def test_invalid_fields_answer_400_naming_the_field(ready_client, body: dict, field: str) -> None:
    response = ready_client.post(PREDICT, json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["type"] == "ValidationError"
    assert any(f"Field '{field}'" in message for message in payload["messages"]), payload


@pytest.mark.parametrize(
    "raw",
    [b'{"body_mass_index": 25', b"not json at all", b'{"age": "EIGHTY_OR_OLDER",}', b"\xff\xfe", b""],
)
def test_malformed_json_answers_400_not_500(ready_client, raw: bytes) -> None:
    response = ready_client.post(PREDICT, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "ValidationError"
    assert response.json()["messages"]


@pytest.mark.parametrize("body", [[1, 2], "text", 42, None])
def test_a_body_that_is_not_an_object_answers_400(ready_client, body: object) -> None:
    response = ready_client.post(PREDICT, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "ValidationError"


def test_unknown_model_answers_404(ready_client) -> None:
    metadata = ready_client.get("/api/models/no_such_model/metadata")
    assert metadata.status_code == 404
    assert metadata.json() == {
        "type": "ModelNotFound",
        "messages": ["Model 'no_such_model' is not loaded in this service."],
    }
    prediction = ready_client.post("/api/models/no_such_model/prediction", json={})
    assert prediction.status_code == 404
    assert prediction.json()["type"] == "ModelNotFound"


def test_unknown_paths_and_methods_use_the_error_shape(ready_client) -> None:
    missing = ready_client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["type"] == "NotFound"
    wrong_method = ready_client.get(PREDICT)
    assert wrong_method.status_code == 405 and wrong_method.json()["type"] == "MethodNotAllowed"


def test_openapi_lists_the_prediction_route(ready_client) -> None:
    paths = ready_client.get("/openapi.json").json()["paths"]
    assert PREDICT in paths
    assert "404" in paths["/api/models/{model_qualified_name}/metadata"]["get"]["responses"]


def test_describe_validation_error_handles_integer_locations() -> None:
    error = {"loc": ("body", 17), "type": "json_invalid", "msg": "x", "ctx": {"error": "E"}}
    message = describe_validation_error(error)
    assert message == "Request body is not valid JSON at position 17: E."
    nested = describe_validation_error({"loc": ("body", "items", 0, "age"), "type": "enum", "msg": "bad"})
    assert nested == "Field 'items.0.age' has error 'enum', bad."


# -- not ready ----------------------------------------------------------------------------------


def test_while_storage_is_unreachable_model_routes_answer_503_then_health_fails(
    artifacts: Artifacts, start_service, caplog
) -> None:
    configuration = service_configuration(
        minio_url="127.0.0.1:9",  # discard port: nothing listens, connections are refused
        minio_access_key="someone",
        minio_secret_key="not-a-real-secret-value",
        keyring_path=str(artifacts.keyring_file),
        storage_attempts=4,
        storage_backoff=0.5,
        storage_backoff_max=0.5,
    )
    with caplog.at_level(logging.INFO):
        client = start_service(configuration, wait=False)
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health/ready").status_code == 503
        assert client.get("/api/health/startup").status_code == 503
        loading = client.post(PREDICT, json={})
        assert loading.status_code == 503
        assert loading.headers["retry-after"] == "5"
        assert loading.json() == {"type": "ServiceNotReady", "messages": ["The model is still loading; retry shortly."]}
        wait_for_startup(client)
    assert client.get("/api/health").status_code == 503
    assert client.get("/api/health").json() == {"health_status": "NOT_HEALTHY"}
    assert client.get("/api/health/ready").status_code == 503
    failed = client.post(PREDICT, json={})
    assert failed.status_code == 503
    assert failed.json()["messages"] == ["The model failed to load; see the service log."]
    assert client.get("/api/models/diabetes_risk_model/metadata").status_code == 503
    assert caplog.text.count("waiting for storage at 127.0.0.1:9/model-files/diabetes_risk_model-0.1.0-") == 3
    assert "still unavailable after 4 attempts" in caplog.text
    assert "not-a-real-secret-value" not in caplog.text


def test_tampered_package_leaves_the_service_not_ready_and_not_healthy(
    artifacts: Artifacts, tmp_path: Path, start_service, caplog
) -> None:
    marker = tmp_path / "unpickled.marker"
    tampered = replaced_pickle_copy(artifacts.package, tmp_path / "tampered.zip", marker)
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", tampered), keyring_path=str(artifacts.keyring_file)
    )
    with caplog.at_level(logging.INFO):
        client = start_service(configuration)
    assert client.get("/api/health/startup").status_code == 200
    assert client.get("/api/health").status_code == 503
    assert client.get("/api/health/ready").status_code == 503
    assert client.post(PREDICT, json={}).status_code == 503
    assert not marker.exists()
    assert f"model package diabetes_risk_model-0.1.0-{PARAMETERS_VERSION}.zip refused" in caplog.text


# -- configuration files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rest_config.yaml", "docker_rest_config.yaml", "kubernetes_rest_config.yaml"])
def test_shipped_configurations_load_and_hold_no_secret_literals(name: str) -> None:
    configuration = load_configuration(REPO / "configuration" / name)
    (model,) = configuration.models
    assert model.class_path == "diabetes_risk_model.prediction.model.DiabetesRiskModel"
    settings = model.configuration or {}
    for key in ("minio_access_key", "minio_secret_key", "parameters_signing_key", "keyring_path"):
        if key in settings:
            assert str(settings[key]).startswith("${") and str(settings[key]).endswith("}"), key
    if name != "rest_config.yaml":
        assert settings["minio_url"] == "${MINIO_URL}"
        assert settings["minio_secret_key"] == "${MINIO_SECRET_KEY}"


def test_local_configuration_runs_end_to_end_from_a_file_store(
    artifacts: Artifacts, tmp_path: Path, monkeypatch, start_service
) -> None:
    local_store(tmp_path / "store", artifacts.package)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODEL_PARAMETERS_VERSION", PARAMETERS_VERSION)
    monkeypatch.setenv("MODEL_KEYRING", str(artifacts.keyring_file))
    pin_environment(monkeypatch, artifacts.package)
    configuration = load_configuration(REPO / "configuration" / "rest_config.yaml")
    configuration.logging = None  # keep pytest's log capture
    client = start_service(configuration)
    assert client.get("/api/health/ready").status_code == 200
    assert client.post(PREDICT, json={"body_mass_index": 22}).status_code == 200


def test_configuration_errors_are_readable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_configuration(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n")
    with pytest.raises(ConfigurationError, match="not valid YAML at line"):
        load_configuration(bad)
    unsafe = tmp_path / "unsafe.yaml"
    unsafe.write_text("models: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_configuration(unsafe)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("models: 3\n")
    with pytest.raises(ConfigurationError, match="models"):
        create_service(wrong)


def test_importing_the_app_module_builds_nothing_and_a_missing_config_is_one_readable_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import diabetes_risk_model.service.app as m\n"
        "assert m._app is None\n"
        "try:\n"
        "    m.app\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    env = {"REST_CONFIG": str(tmp_path / "missing.yaml"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ConfigurationError cannot read service configuration")


# -- bodies that are not JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        ("text/plain", "Content-Type 'text/plain'"),
        ("application/x-www-form-urlencoded", "Content-Type 'application/x-www-form-urlencoded'"),
        ("application/xml", "Content-Type 'application/xml'"),
        (None, "A body without a Content-Type"),
    ],
)
def test_a_body_that_is_not_json_answers_415_naming_the_accepted_type(
    ready_client, content_type: str | None, named: str
) -> None:
    body = b'{"body_mass_index": 32, "general_health": "FAIR"}'
    headers = {"content-type": content_type} if content_type else {}
    request = ready_client.build_request("POST", PREDICT, content=body, headers=headers)
    if "content-type" in request.headers and content_type is None:
        del request.headers["content-type"]
    assert request.headers.get("content-type") == content_type
    response = ready_client.send(request)
    assert response.status_code == 415, response.text
    assert response.headers["accept"] == "application/json"
    assert response.json() == {
        "type": "UnsupportedMediaType",
        "messages": [f"{named} is not supported; send the body as application/json."],
    }


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"])
def test_json_content_types_are_read(ready_client, content_type: str) -> None:
    response = ready_client.post(PREDICT, content=b'{"body_mass_index": 32}', headers={"content-type": content_type})
    assert response.status_code == 200, response.text


def test_an_empty_text_body_is_a_missing_body_not_a_media_type_error(ready_client) -> None:
    response = ready_client.post(PREDICT, content=b"", headers={"content-type": "text/plain"})
    assert response.status_code == 400
    assert response.json()["type"] == "ValidationError"
