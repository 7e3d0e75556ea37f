"""Prometheus metrics for one app: HTTP requests by route and status, plus what loading the model reports.

The ``metrics:`` setting is the engine's (``MetricsConfiguration``, the options of
prometheus-fastapi-instrumentator); this module implements it with a pure ASGI middleware on ``prometheus_client``
with that library's series (names, labels, buckets): the route template comes from the route the router itself
matched (``scope["route"]``), and each (handler, method, status) series is looked up once and then reused.

Everything lives in one :class:`prometheus_client.CollectorRegistry` per app (never the process-wide default
registry), so apps built side by side in one process never collide. ``/metrics`` serves:

- ``http_requests_total{handler,method,status}`` and ``http_request_duration_seconds{handler,method,status}``
  (a histogram with prometheus_client's default buckets), by route template (``none`` for requests no route
  matched) and status (grouped as ``2xx``, ``4xx``... unless ``should_group_status_codes: false``);
- ``http_requests_inprogress`` when ``should_instrument_requests_inprogress: true``;
- ``model_package_info{...} 1``, ``model_package_verifications_total{outcome}``,
  ``model_load_duration_seconds`` and ``model_storage_retries_total`` (:mod:`diabetes_risk_model.prediction.metrics`).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from rest_model_service.configuration import MetricsConfiguration
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from diabetes_risk_model.prediction.metrics import LoadMetrics

METRICS_PATH = "/metrics"
UNTEMPLATED = "none"


class ServiceMetrics:
    """One app's registry, its loading metrics and its HTTP request series."""

    def __init__(self, configuration: MetricsConfiguration) -> None:
        self.configuration = configuration
        self.registry = CollectorRegistry(auto_describe=True)
        self.loading = LoadMetrics(self.registry)
        labels = ("handler", "method", "status")
        self.requests = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "Duration of HTTP requests in seconds", labels, registry=self.registry
        )
        self.inprogress: Gauge | None = None
        if configuration.should_instrument_requests_inprogress:
            self.inprogress = Gauge(
                configuration.inprogress_name,
                "Number of HTTP requests in progress.",
                ("method", "handler") if configuration.inprogress_labels else (),
                registry=self.registry,
            )

    @staticmethod
    def enabled(configuration: MetricsConfiguration | None) -> bool:
        """Whether *configuration* turns metrics on (``should_respect_env_var`` reads its variable now)."""
        if configuration is None or not configuration.enabled:
            return False
        if configuration.should_respect_env_var:
            return os.environ.get(configuration.env_var_name, "").lower() == "true"
        return True

    def route(self) -> Route:
        """``GET /metrics``: the registry in the text exposition format (not in the OpenAPI document)."""

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        return Route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)


class MetricsMiddleware:
    """ASGI middleware counting and timing every HTTP request into a :class:`ServiceMetrics`."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics
        options = metrics.configuration
        self.group_status = options.should_group_status_codes
        self.ignore_untemplated = options.should_ignore_untemplated
        self.group_untemplated = options.should_group_untemplated
        self.excluded = [re.compile(pattern) for pattern in options.excluded_handlers]
        self.round_to = options.round_latency_decimals if options.should_round_latency_decimals else None
        self._series: dict[tuple[str, str, int], tuple[Any, Any] | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500
        root_path = scope.get("root_path", "")  # routing may change it (a Mount extends it)

        async def send_and_note_status(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        inprogress = self._enter(scope)
        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            duration = time.perf_counter() - started
            if inprogress is not None:
                inprogress.dec()
            self._record(scope, root_path, status_code, duration)

    def _enter(self, scope: Scope) -> Any:
        gauge = self.metrics.inprogress
        if gauge is None:
            return None
        if self.metrics.configuration.inprogress_labels:
            gauge = gauge.labels(scope["method"], handler_of(scope)[0])
        gauge.inc()
        return gauge

    def _record(self, scope: Scope, root_path: str, status_code: int, duration: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        key = (template or scope["path"], scope["method"], status_code)
        try:
            series = self._series[key]
        except KeyError:
            series = self._resolve({**scope, "root_path": root_path}, template, scope["method"], status_code)
            if template is not None:  # only a matched route's series are bounded in number, so only those are kept
                self._series[key] = series
        if series is not None:
            counter, histogram = series
            counter.inc()
            histogram.observe(round(duration, self.round_to) if self.round_to is not None else duration)

    def _resolve(self, scope: Scope, template: str | None, method: str, status_code: int) -> tuple[Any, Any] | None:
        """The (counter, histogram) children for one request, or None if it is not counted."""
        if template is None:
            template, templated = handler_of(scope)
        else:
            templated = True
        if not templated and self.ignore_untemplated:
            return None
        if any(pattern.search(template) for pattern in self.excluded):
            return None
        handler = UNTEMPLATED if not templated and self.group_untemplated else template
        status = f"{str(status_code)[0]}xx" if self.group_status else str(status_code)
        labels = {"handler": handler, "method": method, "status": status}
        return self.metrics.requests.labels(**labels), self.metrics.latency.labels(**labels)


def handler_of(scope: Scope) -> tuple[str, bool]:
    """The route template for a request the router has not (yet) matched, and whether it is one.

    Used only off the hot path, and only once per series for mounts: requests a middleware answered before
    routing (the not-ready gate), mounts (FastAPI's router does not record them in ``scope["route"]``), unknown
    paths, and trailing-slash redirects (named by the template they redirect to).
    """
    matched = getattr(scope.get("route"), "path", None)
    if matched is not None:
        return str(matched), True
    app = scope.get("app")
    routes = getattr(app, "routes", ())
    partial = None
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return candidate.path, True
        if match is Match.PARTIAL and partial is None:
            partial = candidate.path
    if partial is not None:
        return partial, True
    path = scope["path"]
    if path != "/" and getattr(getattr(app, "router", None), "redirect_slashes", False):
        toggled = {**scope, "path": path[:-1] if path.endswith("/") else path + "/"}
        for candidate in routes:
            if candidate.matches(toggled)[0] is not Match.NONE:
                return candidate.path, True
    return path, False
