"""Our app: rest_model_service's FastAPI app, with its rough edges fixed.

uvicorn runs ``diabetes_risk_model.service.app:app``; the configuration path
comes from ``REST_CONFIG`` like rest_model_service's own ``main`` module
(default ``configuration/rest_config.yaml``). The app is built on first
access of the ``app`` attribute (PEP 562), so importing this module has no
side effects and tests can build as many apps as they like with
:func:`create_service`.

rest_model_service stays the engine: it creates the FastAPI app, the health
endpoints, the model registry and the prediction routes, and it builds the
models in a background thread so that the server answers health probes while
a model loads. The wrapper changes only what is wrong for us:

- **YAML** is read with ``yaml.safe_load`` (rest_model_service uses
  ``full_load``, which constructs arbitrary Python tags).
- **Validation errors** answer 400 with one message per problem naming the
  field (``Field 'body_mass_index' has error 'less_than_equal', ...``). The
  engine's handler joins ``loc`` items as strings and crashes with a 500 on
  malformed JSON, whose ``loc`` holds an integer offset.
- **Unknown models** answer 404 (``GET /api/models/<name>/metadata`` answers
  500 in the engine; an unknown prediction route answers our JSON error body
  instead of Starlette's).
- **Not ready** means 503 with ``Retry-After`` on model routes while the model
  is loading or after it failed, instead of a misleading 404.
- **Every error body** has the engine's ``Error`` shape (``type``,
  ``messages``) and no 5xx leaks a traceback or an exception message.
- **OpenAPI** is not cached until startup finished, so ``/openapi.json``
  lists the prediction route as soon as it exists.
- **``GET /``** answers a JSON index (title, version, where the schema, docs
  and metrics are) instead of redirecting to ``/docs``, so the contract's
  ``application/json`` is true.
- **``/docs`` and ``/redoc`` are off** unless the configuration says
  ``docs: true``: FastAPI's pages load Swagger UI and ReDoc from a public CDN
  (blank in an air-gapped cluster, and third-party script in the browser).
  ``/openapi.json`` is always served.
- **Metrics**: ``metrics: {enabled: true}`` (the engine's own setting, which
  its ``create_app`` ignores) serves Prometheus metrics at ``/metrics`` from a
  registry that belongs to this app (:mod:`.metrics`); the model's loading
  metrics go into the same registry.

Health, as the engine defines it and Kubernetes reads it:

- ``/api/health/startup``: 200 once model loading has finished, successfully or
  not (startup probe).
- ``/api/health``: 200 while loading and after success; 503 after a failure
  (liveness probe: a permanent failure such as a refused package, or storage
  still unreachable after the bounded retries, makes the pod restart).
- ``/api/health/ready``: 200 only when the model is loaded (readiness probe).

The engine keeps its model registry and status in process-wide singletons, so
a process serves one app; :func:`create_service` resets them before building.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from ml_base.utilities import ModelManager
from pydantic import BaseModel, Field, ValidationError
from rest_model_service.configuration import ServiceConfiguration
from rest_model_service.helpers import create_app, load_type
from rest_model_service.routes import router as engine_router
from rest_model_service.schemas import Error, ModelMetadata, ReadinessStatus, StartupStatus
from rest_model_service.status_manager import StatusManager
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.service._v2_routes import BatchModel, Readiness, inference_protocol_router
from diabetes_risk_model.service.metrics import METRICS_PATH, ServiceMetrics

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = "configuration/rest_config.yaml"
METADATA_PATH = "/api/models/{model_qualified_name}/metadata"
ROOT_PATH = "/"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
MODELS_PREFIX = "/api/models/"
RETRY_AFTER_SECONDS = "5"
V2_MODEL_NAME = "diabetes_risk_model"


# -- configuration --------------------------------------------------------------


class ServiceSettings(ServiceConfiguration):
    """The engine's configuration plus our own top-level settings."""

    docs: bool = Field(
        default=False,
        description="Serve /docs (Swagger UI) and /redoc. Off by default: both pages load their scripts from a "
        "public CDN (cdn.jsdelivr.net).",
    )


def load_configuration(path: str | os.PathLike[str]) -> ServiceSettings:
    """Read a service configuration with ``yaml.safe_load``; any problem is a :class:`ConfigurationError`."""
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read service configuration {file_path}: {exc.strerror}", path=str(file_path)
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        message = f"service configuration {file_path} is not valid YAML{where}"
        raise ConfigurationError(message, path=str(file_path)) from None
    if not isinstance(document, Mapping):
        raise ConfigurationError(f"service configuration {file_path} must be a mapping", path=str(file_path))
    try:
        return ServiceSettings(**document)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(
            f"service configuration {file_path} is invalid: {problems}", path=str(file_path)
        ) from None


def reset_registries() -> None:
    """Forget models and status from a previous app in this process (the engine keeps them in singletons)."""
    for singleton in (ModelManager, StatusManager):
        if "_instance" in singleton.__dict__:
            singleton.clear_instance()


# -- error bodies -----------------------------------------------------------------


def error_response(
    status_code: int, kind: str, *messages: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A JSON error in the engine's ``Error`` shape."""
    body = Error(type=kind, messages=list(messages)).model_dump()
    return JSONResponse(status_code=status_code, content=body, headers=dict(headers or {}))


def describe_validation_error(error: Mapping[str, Any]) -> str:
    """One readable line for one pydantic error, naming the field (``loc`` items may be ints)."""
    loc = [str(part) for part in error.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        source, loc = loc[0], loc[1:]
    else:
        source = "body"
    if error.get("type") == "json_invalid":
        position = f" at position {loc[-1]}" if loc else ""
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return f"Request {source} is not valid JSON{position}: {reason}."
    field = ".".join(loc) if loc else source
    return f"Field '{field}' has error '{error.get('type', 'invalid')}', {error.get('msg', 'invalid value')}."


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """400 with one message per problem; replaces the engine's handler, which fails on integer ``loc`` items."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    messages = [describe_validation_error(error) for error in errors] or ["Request is invalid."]
    logger.info("rejected request to %s: %s", request.url.path, " ".join(messages))
    return error_response(400, "ValidationError", *messages)


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's HTTP errors (404, 405, ...) in our error shape."""
    status_code = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    headers = exc.headers if isinstance(exc, StarletteHTTPException) else None
    path = request.url.path
    if status_code == 404 and path.startswith(MODELS_PREFIX):
        name = path[len(MODELS_PREFIX) :].split("/", 1)[0]
        return error_response(404, "ModelNotFound", f"Model '{name}' is not loaded in this service.")
    if status_code == 404:
        return error_response(404, "NotFound", f"No endpoint at {path}.")
    if status_code == 405:
        return error_response(405, "MethodNotAllowed", f"{request.method} is not allowed on {path}.", headers=headers)
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else "error"
    return error_response(status_code, "HTTPError", str(detail), headers=headers)


async def unhandled_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Any bug becomes a 500 in our shape; the details go to the log, not to the client."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "ServiceError", "Internal error; see the service log.")


# -- routes -------------------------------------------------------------------------


async def get_model_metadata(model_qualified_name: str) -> JSONResponse:
    """Return metadata about a single model; 404 if no such model is loaded.

    This endpoint returns metadata about any of the models currently loaded in the service, however not all models
    necessarily have an endpoint created for them.
    """
    manager = ModelManager()
    try:
        model = manager.get_model(model_qualified_name)
    except ValueError:
        return error_response(404, "ModelNotFound", f"Model '{model_qualified_name}' is not loaded in this service.")
    metadata = ModelMetadata(
        display_name=model.display_name,
        qualified_name=model.qualified_name,
        description=model.description,
        version=model.version,
        input_schema=model.input_schema.model_json_schema(),
        output_schema=model.output_schema.model_json_schema(),
    )
    return JSONResponse(status_code=200, content=metadata.model_dump())


class ServiceIndex(BaseModel):
    """What ``GET /`` answers: where to find the service's schema, documentation and metrics."""

    title: str = Field(description="The service's title.")
    version: str = Field(description="The service's version.")
    openapi: str = Field(description="Path of the OpenAPI document.")
    docs: str | None = Field(description="Path of the interactive documentation, or null when it is off.")
    metrics: str | None = Field(description="Path of the Prometheus metrics, or null when they are off.")


def root_route(index: ServiceIndex) -> BaseRoute:
    """``GET /`` answering *index* as JSON (the engine's root redirects to ``/docs``, answering HTML)."""

    async def get_root() -> JSONResponse:
        """Where to find this service's OpenAPI document, documentation and metrics."""
        return JSONResponse(status_code=200, content=index.model_dump())

    holder = APIRouter()
    holder.add_api_route(ROOT_PATH, get_root, methods=["GET"], response_model=ServiceIndex)
    return holder.routes[0]


def metadata_route() -> BaseRoute:
    holder = APIRouter()
    holder.add_api_route(
        METADATA_PATH,
        get_model_metadata,
        methods=["GET"],
        response_model=ModelMetadata,
        responses={200: {"model": ModelMetadata}, 404: {"model": Error}, 503: {"model": Error}},
    )
    return holder.routes[0]


def replace_engine_routes(app: FastAPI, ours: Mapping[str, BaseRoute]) -> None:
    """Swap some of the engine's GET routes (by path) for ours, at the same positions.

    The engine's routes arrive as one included router (FastAPI keeps included
    routers as a unit). It is replaced, in place and in one list assignment,
    by the engine's own route objects with the given paths swapped for ours;
    the engine's module-level router itself is left untouched.
    """

    def swapped(routes: list[BaseRoute]) -> list[BaseRoute]:
        return [ours.get(r.path, r) if isinstance(r, APIRoute) else r for r in routes]

    engine_routes: list[BaseRoute] = list(engine_router.routes)
    if not set(ours) <= {r.path for r in engine_routes if isinstance(r, APIRoute)}:
        raise RuntimeError("rest_model_service's routes changed; is the engine's version 0.6.0?")
    routes = app.router.routes
    for index, route in enumerate(routes):
        if getattr(route, "original_router", None) is engine_router:
            routes[index : index + 1] = swapped(engine_routes)
            break
    else:
        app.router.routes[:] = swapped(list(routes))
        if not any(r in ours.values() for r in app.router.routes):
            raise RuntimeError("rest_model_service's routes were not found in the app; is the engine's version 0.6.0?")
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if mark_changed is not None:
        mark_changed()


def remove_docs(app: FastAPI) -> None:
    """Drop FastAPI's /docs and /redoc pages (they load scripts from a public CDN)."""
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in DOCS_PATHS]
    app.docs_url = None
    app.redoc_url = None
    mark_changed = getattr(app.router, "_mark_routes_changed", None)
    if mark_changed is not None:
        mark_changed()


class NotReadyGate:
    """ASGI middleware: model routes answer 503 (with Retry-After) until the model is loaded.

    Pure ASGI (not ``BaseHTTPMiddleware``) so the ready path costs one attribute read per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(MODELS_PREFIX):
            status = StatusManager()
            if status.get_readiness_status() != ReadinessStatus.ACCEPTING_TRAFFIC:
                if status.get_startup_status() == StartupStatus.STARTED:
                    message = "The model failed to load; see the service log."
                else:
                    message = "The model is still loading; retry shortly."
                response = error_response(503, "ServiceNotReady", message, headers={"Retry-After": RETRY_AFTER_SECONDS})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def describe_our_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Make the OpenAPI document say what this app answers (in place; idempotent).

    FastAPI documents a 422 ``HTTPValidationError`` on every route with
    parameters, but our handler answers validation errors with 400 ``Error``;
    and model routes can answer 503 while the model is not ready.
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", {"description": "Invalid request", "content": error})
            if path.startswith(MODELS_PREFIX):
                responses.setdefault("503", {"description": "The model is not loaded (yet)", "content": error})
    schemas = document.get("components", {}).get("schemas", {})
    text = json.dumps(document.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"#/components/schemas/{unused}" not in text:
            schemas.pop(unused, None)
            text = json.dumps(document.get("paths", {})) + json.dumps(schemas)
    return document


def openapi_uncached_until_started(app: FastAPI) -> None:
    """Describe our error answers, and do not cache the schema before startup finished.

    FastAPI caches the schema on first use; before startup finishes that would omit the prediction route.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if StatusManager().get_startup_status() != StartupStatus.STARTED:
            app.openapi_schema = None
        return describe_our_errors(build())

    app.openapi = openapi  # type: ignore[method-assign]


# -- assembly -----------------------------------------------------------------------


def engine_readiness() -> Readiness:
    """The engine's status as the Open Inference Protocol routes read it."""
    status = StatusManager()
    if status.get_readiness_status() == ReadinessStatus.ACCEPTING_TRAFFIC:
        return "ready"
    return "failed" if status.get_startup_status() == StartupStatus.STARTED else "loading"


def inference_protocol_routes(configuration: ServiceConfiguration) -> APIRouter:
    """``/v2``: the Open Inference Protocol for the diabetes risk model, over the engine's status and registry."""
    return inference_protocol_router(
        server_name=configuration.service_title,
        server_version=configuration.version,
        model_name=V2_MODEL_NAME,
        readiness=engine_readiness,
        model=lambda: cast(BatchModel, ModelManager().get_model(V2_MODEL_NAME)),
    )


def hand_metrics_to_models(configuration: ServiceConfiguration, metrics: ServiceMetrics) -> ServiceConfiguration:
    """A copy of *configuration* whose :class:`DiabetesRiskModel` entries report into *metrics*' registry.

    The engine builds each model from its ``configuration`` mapping in a thread of its own; the app's
    loading metrics reach the model as one more keyword argument. Other model classes are left alone, and a
    class path that does not import is left for the engine to report.
    """
    from diabetes_risk_model.prediction.model import DiabetesRiskModel

    configuration = configuration.model_copy(deep=True)
    for model in configuration.models:
        try:
            model_class = load_type(model.class_path)
        except (ImportError, AttributeError, ValueError):
            continue
        if isinstance(model_class, type) and issubclass(model_class, DiabetesRiskModel):
            model.configuration = {**(model.configuration or {}), "metrics": metrics.loading}
    return configuration


def create_service(
    configuration: ServiceConfiguration | str | os.PathLike[str], wait_for_model_creation: bool = False
) -> FastAPI:
    """Build the engine's app from *configuration* (object or YAML path) and apply our fixes.

    With ``wait_for_model_creation`` the models are built before returning
    (for generating the OpenAPI contract); a loading error then propagates.
    ``app.state.metrics`` is the app's :class:`ServiceMetrics` (None when metrics are off).
    """
    if not isinstance(configuration, ServiceConfiguration):
        configuration = load_configuration(configuration)
    docs = bool(getattr(configuration, "docs", False))
    metrics = None
    if configuration.metrics is not None and configuration.metrics.enabled:
        metrics = ServiceMetrics(configuration.metrics)
        configuration = hand_metrics_to_models(configuration, metrics)
    reset_registries()
    app = create_app(configuration, wait_for_model_creation=wait_for_model_creation)
    app.state.metrics = metrics
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(Exception, unhandled_exception_handler)
    index = ServiceIndex(
        title=configuration.service_title,
        version=configuration.version,
        openapi=app.openapi_url or "/openapi.json",
        docs=app.docs_url if docs else None,
        metrics=METRICS_PATH if metrics is not None else None,
    )
    replace_engine_routes(app, {METADATA_PATH: metadata_route(), ROOT_PATH: root_route(index)})
    if not docs:
        remove_docs(app)
    app.include_router(inference_protocol_routes(configuration))
    app.add_middleware(NotReadyGate)
    if metrics is not None:
        metrics.install(app)  # outermost: requests the gate answers (503) are counted too
    openapi_uncached_until_started(app)
    return app


def app_from_environment(environ: Mapping[str, str] | None = None) -> FastAPI:
    """The app for ``$REST_CONFIG`` (default ``configuration/rest_config.yaml``)."""
    env = os.environ if environ is None else environ
    return create_service(env.get("REST_CONFIG") or DEFAULT_CONFIG_PATH)


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """Build ``app`` lazily on first access, so that importing this module has no side effects."""
    global _app
    if name == "app":
        if _app is None:
            _app = app_from_environment()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
