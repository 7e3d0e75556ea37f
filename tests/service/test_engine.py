"""The engine's defects that diabetes_risk_model.service._engine works around, and how the app is declared.

Each ``test_engine_*`` test states one defect of rest_model_service 0.6.0 (or ml_base) as it behaves today; it
fails once the engine behaves differently, and then the matching workaround in ``_engine`` can go.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from ml_base import MLModel
from ml_base.utilities import ModelManager
from pydantic import BaseModel
from rest_model_service import routes as engine_routes
from rest_model_service.configuration import MetricsConfiguration, ServiceConfiguration
from rest_model_service.exception_handlers import validation_exception_handler as engine_validation_handler
from rest_model_service.helpers import create_app
from rest_model_service.routes import PredictionController
from rest_model_service.schemas import StartupStatus
from rest_model_service.status_manager import StatusManager
from starlette.requests import Request

from diabetes_risk_model.service import create_service
from diabetes_risk_model.service._engine import engine_route, reset_engine_state

BUILT: list[dict[str, object]] = []
SECRET = "secret detail of a failure"


class EchoInput(BaseModel):
    value: int = 0


class EchoOutput(BaseModel):
    value: int


class RecordingModel(MLModel):
    """Records each construction; predict() echoes, or fails with SECRET for value 13."""

    display_name = "Recording"
    qualified_name = "recording"
    description = "A test double."
    version = "1"
    input_schema = EchoInput
    output_schema = EchoOutput

    def __init__(self, **settings: object) -> None:
        BUILT.append(settings)

    def predict(self, data: BaseModel) -> EchoOutput:
        assert isinstance(data, EchoInput)
        if data.value == 13:
            raise RuntimeError(SECRET)
        return EchoOutput(value=data.value)


def recording_configuration(create_endpoint: bool = True, **extra: object) -> ServiceConfiguration:
    model = {"class_path": f"{__name__}.RecordingModel", "create_endpoint": create_endpoint, "configuration": {"x": 1}}
    return ServiceConfiguration(service_title="t", models=[model], **extra)


@pytest.fixture(autouse=True)
def fresh_engine_state():
    BUILT.clear()
    reset_engine_state()
    yield
    reset_engine_state()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- the engine's defects, as they are --------------------------------------------------------------------------


def test_engine_model_manager_clear_instance_fails_when_no_instance_exists() -> None:
    ModelManager()
    ModelManager.clear_instance()
    with pytest.raises(AttributeError):
        ModelManager.clear_instance()
    reset_engine_state()  # the workaround: safe whatever the state
    reset_engine_state()


def test_engine_metadata_of_an_unknown_model_answers_500() -> None:
    response = asyncio.run(engine_routes.get_model_metadata("no_such_model"))
    assert response.status_code == 500


def test_engine_root_redirects_to_docs_although_documented_as_json() -> None:
    response = asyncio.run(engine_routes.get_root())
    assert (response.status_code, response.headers["location"]) == (307, "/docs")


def test_engine_validation_handler_fails_on_an_integer_location() -> None:
    error = RequestValidationError([{"loc": ("body", 17), "type": "json_invalid", "msg": "JSON decode error"}])
    request = Request({"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""})
    with pytest.raises(TypeError):
        asyncio.run(engine_validation_handler(request, error))


def test_engine_prediction_controller_is_untyped_and_answers_500_with_the_exception_text() -> None:
    assert inspect.signature(PredictionController.__call__).parameters["data"].annotation is inspect.Parameter.empty
    response = PredictionController(RecordingModel())(EchoInput(value=13))
    assert response.status_code == 500 and SECRET in response.body.decode()


def test_engine_create_app_loads_without_a_lifespan_and_ignores_metrics() -> None:
    # No endpoint: the engine would write the model's input type into PredictionController's class.
    app = create_app(recording_configuration(create_endpoint=False, metrics=MetricsConfiguration(enabled=True)))
    wait_until(lambda: StatusManager().get_startup_status() == StartupStatus.STARTED)
    assert BUILT == [{"x": 1}], "the engine built the model without any server running"
    assert "/metrics" not in {getattr(route, "path", None) for route in app.routes}


# -- our app, declared ------------------------------------------------------------------------------------------


def test_the_engine_routes_we_reuse_exist() -> None:
    for path in ("/api/health", "/api/health/ready", "/api/health/startup", "/api/models"):
        assert engine_route(path).path == path
    with pytest.raises(RuntimeError, match=r"0\.6\.0"):
        engine_route("/api/nowhere")


def test_models_load_when_the_lifespan_starts_not_before() -> None:
    app = create_service(recording_configuration())
    time.sleep(0.2)
    assert BUILT == [], "nothing loads before the server starts"
    with TestClient(app) as client:
        wait_until(lambda: client.get("/api/health/startup").status_code == 200)
        assert client.get("/api/health/ready").status_code == 200
        assert client.post("/api/models/recording/prediction", json={"value": 4}).json() == {"value": 4}
    assert BUILT == [{"x": 1}]


def test_a_failing_prediction_answers_500_without_the_exception_text() -> None:
    app = create_service(recording_configuration())
    with TestClient(app) as client:
        wait_until(lambda: client.get("/api/health/ready").status_code == 200)
        response = client.post("/api/models/recording/prediction", json={"value": 13})
    assert response.status_code == 500
    assert response.json() == {"type": "ServiceError", "messages": ["Internal error; see the service log."]}


def test_a_loader_of_an_earlier_app_never_reports_into_a_later_one() -> None:
    release = threading.Event()
    first = create_service(recording_configuration())
    loader = first.state.loader
    original_run = loader.run

    def slow_run() -> None:
        release.wait(10)
        original_run()

    loader.run = slow_run
    loader.start()
    second = create_service(ServiceConfiguration(service_title="t", models=[]))
    second.state.loader.run()
    release.set()
    wait_until(lambda: loader.status.get_startup_status() == StartupStatus.STARTED)
    assert ModelManager().get_models() == [], "the first app's model went into its own, orphaned registry"
    assert loader.models.get_models()[0]["qualified_name"] == "recording"
