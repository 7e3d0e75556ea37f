"""What the app takes from rest_model_service 0.6.0 (the engine), and every engine defect it works around.

Taken as they are: the health, readiness, startup and model-list routes (the engine's own route objects,
so their paths, operation ids, documented answers and docstrings are the engine's), its schemas
(``Error``, ``ModelMetadata``...), its configuration schema, ``load_type``, ``StatusManager`` and
ml_base's ``ModelManager`` (process-wide singletons: the engine's routes read them).

The engine's defects, each worked around here and pinned by ``tests/service/test_engine.py``, which fails
once the engine behaves differently (then the workaround can go):

1. ``ModelManager.clear_instance()`` raises ``AttributeError`` when no instance exists yet:
   :func:`reset_engine_state` creates one first.
2. ``GET /api/models/{name}/metadata`` answers 500 ``ServiceError`` for a model that is not loaded:
   :func:`metadata_route` answers 404 ``ModelNotFound``.
3. ``GET /`` redirects to ``/docs`` (HTML) while its OpenAPI entry promises ``application/json``: the app
   declares its own ``GET /`` (``_routes.root_route``).
4. ``validation_exception_handler`` joins ``loc`` items as strings, so malformed JSON (whose ``loc``
   holds an integer offset) becomes a 500: the app never registers it (``_errors`` answers 400/415).
5. ``PredictionController`` learns its body type by writing into its class's ``__call__.__annotations__``
   (shared by every controller in the process) and answers a failing ``predict()`` with 500 and the
   exception's text: :func:`add_prediction_route` declares the same route with a function of its own.
6. ``create_app`` starts loading as it returns (not in a lifespan), ignores the ``metrics:`` setting and
   has no way to add routes before the model routes: the app is declared in ``app.py`` instead.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from ml_base import MLModel
from ml_base.ml_model import MLModelSchemaValidationException
from ml_base.utilities import ModelManager
from rest_model_service.routes import router as engine_router
from rest_model_service.schemas import Error, HealthStatus, ModelMetadata, ReadinessStatus, StartupStatus
from rest_model_service.status_manager import StatusManager

from diabetes_risk_model.service._errors import error_response, internal_error, model_not_found

logger = logging.getLogger(__name__)

METADATA_PATH = "/api/models/{model_qualified_name}/metadata"


def engine_route(path: str) -> APIRoute:
    """The engine's own declared route for *path* (read from its public module-level router)."""
    for route in engine_router.routes:
        if isinstance(route, APIRoute) and route.path == path:
            return route
    raise RuntimeError(f"rest_model_service declares no route {path}; is the engine's version 0.6.0?")


def reset_engine_state() -> tuple[ModelManager, StatusManager]:
    """Forget any previous app's models and status, and start in the engine's initial state.

    The engine keeps both in process-wide singletons, so a process serves one app at a time. Returns the
    fresh instances, so that a loader writes only into the state of the app it belongs to.
    """
    ModelManager()  # defect 1: clear_instance() fails when no instance exists
    ModelManager.clear_instance()
    StatusManager.clear_instance()
    status = StatusManager()
    status.set_health_status(HealthStatus.HEALTHY)
    status.set_readiness_status(ReadinessStatus.REFUSING_TRAFFIC)
    status.set_startup_status(StartupStatus.NOT_STARTED)
    return ModelManager(), status


async def get_model_metadata(model_qualified_name: str) -> JSONResponse:
    """Return metadata about a single model; 404 if no such model is loaded.

    This endpoint returns metadata about any of the models currently loaded in the service, however not all models
    necessarily have an endpoint created for them.
    """
    try:
        model = ModelManager().get_model(model_qualified_name)
    except ValueError:
        return model_not_found(model_qualified_name)
    metadata = ModelMetadata(
        display_name=model.display_name,
        qualified_name=model.qualified_name,
        description=model.description,
        version=model.version,
        input_schema=model.input_schema.model_json_schema(),
        output_schema=model.output_schema.model_json_schema(),
    )
    return JSONResponse(status_code=200, content=metadata.model_dump())


def metadata_route() -> APIRoute:
    """Defect 2: the engine's metadata route, answering 404 for a model that is not loaded."""
    return APIRoute(
        METADATA_PATH,
        get_model_metadata,
        methods=["GET"],
        response_model=ModelMetadata,
        responses={200: {"model": ModelMetadata}, 404: {"model": Error}, 503: {"model": Error}},
    )


def add_prediction_route(app: FastAPI, model: MLModel) -> None:
    """``POST /api/models/<name>/prediction`` for *model*, declared as the engine's ``build_models`` does.

    The operation keeps the engine's name (``PredictionController``), so the OpenAPI operation id and summary
    are the engine's. Defect 5: the body type is this function's own signature, and a failing ``predict()``
    answers 500 without the exception's text.
    """

    def predict(data: Any) -> JSONResponse:
        try:
            prediction = model.predict(data).model_dump()
        except MLModelSchemaValidationException as exc:
            logger.info("model %s refused its input: %s", model.qualified_name, exc)
            return error_response(400, "SchemaValidationError", str(exc))
        except Exception:
            logger.exception("prediction with model %s failed", model.qualified_name)
            return internal_error()
        return JSONResponse(status_code=200, content=prediction)

    data = inspect.Parameter("data", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model.input_schema)
    predict.__signature__ = inspect.Signature([data], return_annotation=JSONResponse)  # type: ignore[attr-defined]
    app.add_api_route(
        f"/api/models/{model.qualified_name}/prediction",
        predict,
        methods=["POST"],
        name="PredictionController",
        response_model=model.output_schema,
        description=model.description,
        responses={400: {"model": Error}, 500: {"model": Error}},
    )
