"""Prometheus metrics for one app: HTTP requests by route and status, plus what loading the model reports.

rest_model_service declares a ``metrics:`` setting (prometheus-fastapi-instrumentator's options) but its
``create_app`` ignores it; this module applies it to our app. Everything lives in one
:class:`prometheus_client.CollectorRegistry` per app (never the process-wide default registry), created when
the app is built, so apps built side by side in one process (tests, the benchmark) never collide, and
importing this module creates nothing.

``/metrics`` (text exposition format) then serves:

- ``http_requests_total{handler,method,status}`` and ``http_request_duration_seconds{handler,method,status}``
  (a histogram), by route template and status (grouped as ``2xx``, ``4xx``... unless
  ``should_group_status_codes: false``);
- ``model_package_info{name,version,parameters_version,sequence,key_id,algorithm,sha256} 1``;
- ``model_package_verifications_total{outcome}`` (``ok`` or the refusal's exception class);
- ``model_load_duration_seconds`` and ``model_storage_retries_total``.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from rest_model_service.configuration import MetricsConfiguration

from diabetes_risk_model.prediction.metrics import LoadMetrics

METRICS_PATH = "/metrics"


class ServiceMetrics:
    """One app's registry, its loading metrics and its HTTP instrumentation."""

    def __init__(self, configuration: MetricsConfiguration) -> None:
        self.configuration = configuration
        self.registry = CollectorRegistry(auto_describe=True)
        self.loading = LoadMetrics(self.registry)

    def install(self, app: FastAPI) -> None:
        """Instrument every request of *app* and serve the registry at ``/metrics`` (not in the OpenAPI schema)."""
        from prometheus_fastapi_instrumentator import Instrumentator, metrics

        options = self.configuration.model_dump(exclude={"enabled"})
        instrumentator = Instrumentator(**options, registry=self.registry)
        instrumentator.add(
            metrics.requests(registry=self.registry),
            metrics.latency(should_include_status=True, registry=self.registry),
        )
        instrumentator.instrument(app).expose(app, endpoint=METRICS_PATH, include_in_schema=False)


__all__ = ["METRICS_PATH", "ServiceMetrics"]
