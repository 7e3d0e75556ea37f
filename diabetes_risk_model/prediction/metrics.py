"""What loading a model package reports to Prometheus.

Every collector lives in a :class:`prometheus_client.CollectorRegistry` handed in by the caller (the app
builds one per app instance; a model built on its own gets a private one), never in the process-wide default
registry, and nothing is created at import time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

#: The labels of ``model_package_info``.
PACKAGE_INFO_LABELS = ("name", "version", "parameters_version", "sequence", "key_id", "algorithm", "sha256")


class LoadMetrics:
    """The loading metrics of one service: package info, verification outcomes, load duration, storage retries."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        self.package_info = Gauge(
            "model_package_info",
            "The model package being served (value 1); sha256 is the package file's digest.",
            PACKAGE_INFO_LABELS,
            registry=self.registry,
        )
        self.verifications = Counter(
            "model_package_verifications",
            "Model package loads by outcome: ok, or the refusal's exception class name.",
            ("outcome",),
            registry=self.registry,
        )
        self.load_duration = Gauge(
            "model_load_duration_seconds",
            "Seconds the last model load took (download, pin check, verification, unpickling, answer table).",
            registry=self.registry,
        )
        self.storage_retries = Counter(
            "model_storage_retries",
            "Times the package download was retried because the store was unavailable.",
            registry=self.registry,
        )

    def outcome(self, outcome: str) -> None:
        self.verifications.labels(outcome=outcome).inc()


__all__ = ["PACKAGE_INFO_LABELS", "LoadMetrics"]
