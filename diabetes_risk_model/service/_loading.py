"""Building the configured models in the background, and answering 503 on model routes until they are built.

Health, as the engine defines it and Kubernetes reads it:

- ``/api/health/startup``: 200 once model loading has finished, successfully or not (startup probe);
- ``/api/health``: 200 while loading and after success, 503 after a failure (liveness probe: a refused
  package, or storage still unreachable after the bounded retries, makes the pod restart);
- ``/api/health/ready``: 200 only when every model is loaded (readiness probe).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from ml_base import MLModel
from ml_base.utilities import ModelManager
from rest_model_service.configuration import Model, ServiceConfiguration
from rest_model_service.helpers import load_type
from rest_model_service.schemas import HealthStatus, ReadinessStatus, StartupStatus
from rest_model_service.status_manager import StatusManager
from starlette.types import ASGIApp, Receive, Scope, Send

from diabetes_risk_model.errors import DiabetesRiskModelError, StorageError, VerificationError
from diabetes_risk_model.prediction.metrics import LoadMetrics
from diabetes_risk_model.service._engine import add_prediction_route
from diabetes_risk_model.service._errors import MODELS_PREFIX, error_response

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"


class ModelLoader:
    """Builds every configured model once, registers it, adds its prediction route, and sets the status.

    A model class whose constructor names a ``metrics`` parameter gets the app's :class:`LoadMetrics`.
    The loader writes only into the ``models`` and ``status`` instances it was given, so a load still running
    for an earlier app in the same process never reports into a later one.
    """

    def __init__(
        self,
        app: FastAPI,
        configuration: ServiceConfiguration,
        models: ModelManager,
        status: StatusManager,
        metrics: LoadMetrics | None = None,
    ) -> None:
        self.app = app
        self.configuration = configuration
        self.models = models
        self.status = status
        self.metrics = metrics
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Load in a daemon thread (at most once per loader): the server answers probes meanwhile."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run_logged, name="model-loader", daemon=True).start()

    def run(self) -> None:
        """Load now, in this thread; a loading error propagates (after the status says so)."""
        with self._lock:
            self._started = True
        try:
            for model_configuration in self.configuration.models:
                self._build(model_configuration)
        except BaseException:
            self.status.set_health_status(HealthStatus.NOT_HEALTHY)
            self.status.set_readiness_status(ReadinessStatus.REFUSING_TRAFFIC)
            self.status.set_startup_status(StartupStatus.STARTED)
            raise
        self.status.set_health_status(HealthStatus.HEALTHY)
        self.status.set_readiness_status(ReadinessStatus.ACCEPTING_TRAFFIC)
        self.status.set_startup_status(StartupStatus.STARTED)

    def _run_logged(self) -> None:
        try:
            self.run()
        except (VerificationError, StorageError):
            pass  # the loader logged the refusal, or storage giving up, as one line naming it
        except DiabetesRiskModelError as exc:  # ours, e.g. a configuration error: one line, no traceback
            logger.error("model loading failed; the service stays not ready: %s: %s", type(exc).__name__, exc)
        except Exception:
            logger.error("model loading failed; the service stays not ready", exc_info=True)

    def _build(self, configuration: Model) -> None:
        model_class = load_type(configuration.class_path)
        settings: dict[str, Any] = dict(configuration.configuration or {})
        if self.metrics is not None and takes_metrics(model_class):
            settings["metrics"] = self.metrics
        model = model_class(**settings)
        self.models.add_model(model)
        logger.info("loaded model %s", model.qualified_name)
        for decorator in configuration.decorators or []:
            decorator_class = load_type(decorator.class_path)
            self.models.add_decorator(model.qualified_name, decorator_class(**(decorator.configuration or {})))
            logger.info("added decorator %s to model %s", decorator_class.__name__, model.qualified_name)
        served: MLModel = self.models.get_model(model.qualified_name)
        if configuration.create_endpoint:
            add_prediction_route(self.app, served)
            logger.info("created the prediction endpoint of model %s", served.qualified_name)


def takes_metrics(model_class: type) -> bool:
    try:
        return "metrics" in inspect.signature(model_class).parameters
    except (TypeError, ValueError):
        return False


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start loading the models when the server starts; the server does not wait for them."""
    app.state.loader.start()
    yield


class NotReadyGate:
    """ASGI middleware: model routes answer 503 (with Retry-After) until the models are loaded.

    Pure ASGI (not ``BaseHTTPMiddleware``) so the ready path costs one status read per request.
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
