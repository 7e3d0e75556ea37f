"""The HTTP app, declared from rest_model_service's parts: uvicorn runs ``diabetes_risk_model.service.app:app``.

The configuration path comes from ``REST_CONFIG`` like rest_model_service's own ``main`` module (default
``configuration/rest_config.yaml``). The app is built on first access of the ``app`` attribute (PEP 562), so
importing this module has no side effects and tests can build apps with :func:`create_service`.

What the app is:

- **routes** (:func:`declared_routes`): ``GET /`` (a JSON index), the engine's health, readiness, startup
  and model-list routes, the model metadata route, ``/openapi.json``, ``/docs`` and ``/redoc`` (unless
  ``docs: false``; their assets are served by the app, see :mod:`._routes`) and ``/metrics`` (with
  ``metrics: {enabled: true}``), the Open Inference Protocol's ``/v2`` routes (:mod:`._v2_routes`); each
  loaded model adds ``POST /api/models/<name>/prediction``;
- **lifespan**: starts loading the models in a background thread, so the server answers health probes
  while a model loads (:mod:`._loading` states the health semantics);
- **middleware**: Prometheus metrics (outermost, so every answer is counted, :mod:`._metrics`), then the
  not-ready gate: model routes answer 503 with ``Retry-After`` while the model is loading or after it failed;
- **errors** (:mod:`._errors`): every error body has the engine's ``Error`` shape (``type``, ``messages``):
  400 naming the field, 415 for a body that is not JSON, 404 for unknown models and paths, 405, and 500
  without exception text;
- **OpenAPI** (:mod:`._openapi`): documents those answers instead of FastAPI's 422.

What is taken from the engine and which of its defects are worked around is listed in :mod:`._engine`.
The engine keeps models and status in process-wide singletons, so a process serves one app at a time:
:func:`create_service` resets them.
"""

from __future__ import annotations

import logging.config
import os
from collections.abc import Mapping
from typing import Any, cast

from fastapi import FastAPI
from ml_base.utilities import ModelManager
from rest_model_service.configuration import ServiceConfiguration
from rest_model_service.schemas import ReadinessStatus, StartupStatus
from rest_model_service.status_manager import StatusManager
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from diabetes_risk_model.service._engine import engine_route, metadata_route, reset_engine_state
from diabetes_risk_model.service._errors import EXCEPTION_HANDLERS
from diabetes_risk_model.service._loading import ModelLoader, NotReadyGate, lifespan
from diabetes_risk_model.service._metrics import METRICS_PATH, MetricsMiddleware, ServiceMetrics
from diabetes_risk_model.service._openapi import ServiceApp
from diabetes_risk_model.service._routes import (
    DOCS_PATH,
    OPENAPI_PATH,
    REDOC_PATH,
    ServiceIndex,
    docs_routes,
    root_route,
)
from diabetes_risk_model.service._settings import ServiceSettings, load_configuration, settings_of
from diabetes_risk_model.service._v2_routes import BatchModel, Readiness, inference_protocol_router

DEFAULT_CONFIG_PATH = "configuration/rest_config.yaml"


#: The model the Open Inference Protocol routes serve.
V2_MODEL_NAME = "diabetes_risk_model"


def inference_protocol_routes(
    settings: ServiceSettings, models: ModelManager, status: StatusManager
) -> list[BaseRoute]:
    """``/v2``: the Open Inference Protocol for the diabetes risk model, over this app's status and registry."""

    def readiness() -> Readiness:
        if status.get_readiness_status() == ReadinessStatus.ACCEPTING_TRAFFIC:
            return "ready"
        return "failed" if status.get_startup_status() == StartupStatus.STARTED else "loading"

    return inference_protocol_router(
        server_name=settings.service_title,
        server_version=settings.version,
        model_name=V2_MODEL_NAME,
        readiness=readiness,
        model=lambda: cast(BatchModel, models.get_model(V2_MODEL_NAME)),
    ).routes


def declared_routes(
    settings: ServiceSettings, metrics: ServiceMetrics | None, models: ModelManager, status: StatusManager
) -> list[BaseRoute]:
    """Every route of the app but the prediction routes (added by each model as it loads).

    A group of routes joins the app as one more line of this list. Give route objects with their full paths
    (``APIRoute``, or the ``.routes`` of an ``APIRouter(prefix=...)``), not an ``include_router`` prefix: the
    metrics label a request with the path of the route the router matched.
    """
    index = ServiceIndex(
        title=settings.service_title,
        version=settings.version,
        openapi=OPENAPI_PATH,
        docs=DOCS_PATH if settings.docs else None,
        redoc=REDOC_PATH if settings.docs else None,
        metrics=METRICS_PATH if metrics is not None else None,
    )
    return [
        root_route(index),
        engine_route("/api/health"),
        engine_route("/api/health/ready"),
        engine_route("/api/health/startup"),
        engine_route("/api/models"),
        metadata_route(),
        *(docs_routes(settings.service_title) if settings.docs else []),
        *([metrics.route()] if metrics is not None else []),
        *inference_protocol_routes(settings, models, status),
    ]


def create_service(
    configuration: ServiceConfiguration | str | os.PathLike[str], wait_for_model_creation: bool = False
) -> FastAPI:
    """The app for *configuration* (object or YAML path).

    Models load when the app's lifespan starts (uvicorn, or ``with TestClient(app)``). With
    ``wait_for_model_creation`` they are loaded before returning instead (for generating the OpenAPI
    contract), and a loading error propagates. ``app.state.metrics`` is the app's :class:`ServiceMetrics`
    (None when metrics are off).
    """
    if not isinstance(configuration, ServiceConfiguration):
        configuration = load_configuration(configuration)
    settings = settings_of(configuration)
    if settings.logging is not None:
        logging.config.dictConfig(settings.logging)
    metrics = ServiceMetrics(settings.metrics) if ServiceMetrics.enabled(settings.metrics) else None
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)] if metrics is not None else []
    models, status = reset_engine_state()
    app = ServiceApp(
        title=settings.service_title,
        description=settings.description,
        version=settings.version,
        openapi_url=OPENAPI_PATH,
        docs_url=None,  # FastAPI's own pages load their assets from a CDN: ours are in declared_routes
        redoc_url=None,
        routes=declared_routes(settings, metrics, models, status),
        middleware=[*middleware, Middleware(NotReadyGate)],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.loader = ModelLoader(app, settings, models, status, metrics.loading if metrics is not None else None)
    if wait_for_model_creation:
        app.state.loader.run()
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
