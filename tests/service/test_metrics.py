"""Prometheus metrics at /metrics, parsed with prometheus_client's own parser (the oracle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from rest_model_service.configuration import MetricsConfiguration

from diabetes_risk_model.files import sha256_file
from tests.support.packages import PACKAGE_SEQUENCE, PARAMETERS_VERSION, Artifacts, local_store
from tests.support.service import service_configuration

PREDICT = "/api/models/diabetes_risk_model/prediction"


def with_metrics(configuration: Any) -> Any:
    configuration.metrics = MetricsConfiguration(enabled=True)
    return configuration


def scrape(client: Any) -> dict[str, Any]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def samples(families: dict[str, Any], family: str, sample: str, **labels: str) -> list[Any]:
    return [
        s
        for s in families[family].samples
        if s.name == sample and all(s.labels.get(key) == value for key, value in labels.items())
    ]


def test_requests_latency_and_package_info_after_predictions(
    artifacts: Artifacts, tmp_path: Path, start_service
) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(artifacts.keyring_file)
    )
    client = start_service(with_metrics(configuration))
    for bmi in (20, 30, 40):
        assert client.post(PREDICT, json={"body_mass_index": bmi}).status_code == 200
    assert client.post(PREDICT, json={"body_mass_index": 99}).status_code == 400
    families = scrape(client)

    ok = samples(families, "http_requests", "http_requests_total", handler=PREDICT, method="POST", status="2xx")
    bad = samples(families, "http_requests", "http_requests_total", handler=PREDICT, method="POST", status="4xx")
    assert [s.value for s in ok] == [3.0] and [s.value for s in bad] == [1.0]
    latency = "http_request_duration_seconds"
    counts = samples(families, latency, f"{latency}_count", handler=PREDICT, status="2xx")
    assert [s.value for s in counts] == [3.0]
    assert samples(families, latency, f"{latency}_bucket", handler=PREDICT, status="2xx", le="+Inf")

    (info,) = families["model_package_info"].samples
    assert info.value == 1.0
    assert info.labels == {
        "name": "diabetes_risk_model",
        "version": "0.1.0",
        "parameters_version": PARAMETERS_VERSION,
        "sequence": str(PACKAGE_SEQUENCE),
        "key_id": "service-tests",
        "algorithm": "ecdsa-p256",
        "sha256": sha256_file(artifacts.package),
    }
    outcomes = {
        s.labels["outcome"]: s.value
        for s in families["model_package_verifications"].samples
        if s.name.endswith("_total")
    }
    assert outcomes == {"ok": 1.0}
    (duration,) = families["model_load_duration_seconds"].samples
    assert duration.value > 0
    retries = [s for s in families["model_storage_retries"].samples if s.name.endswith("_total")]
    assert [s.value for s in retries] == [0.0]


def test_a_refused_package_is_counted_by_refusal_type(artifacts: Artifacts, tmp_path: Path, start_service) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package),
        keyring_path=str(artifacts.keyring_file),
        package_sha256="0" * 64,
    )
    client = start_service(with_metrics(configuration))
    assert client.get("/api/health/ready").status_code == 503
    assert client.post(PREDICT, json={}).status_code == 503
    families = scrape(client)
    outcomes = {
        s.labels["outcome"]: s.value
        for s in families["model_package_verifications"].samples
        if s.name.endswith("_total")
    }
    assert outcomes == {"BindingMismatch": 1.0}
    assert families["model_package_info"].samples == []
    # The prediction route is only created once a model loads, so the gate's 503 counts under handler "none".
    gated = samples(families, "http_requests", "http_requests_total", handler="none", status="5xx")
    assert [s.value for s in gated] == [1.0], "requests the not-ready gate answers are counted"


def test_storage_retries_are_counted(artifacts: Artifacts, start_service) -> None:
    configuration = service_configuration(
        minio_url="127.0.0.1:9",  # nothing listens on the discard port
        minio_access_key="someone",
        minio_secret_key="not-a-real-secret-value",
        keyring_path=str(artifacts.keyring_file),
        storage_attempts=3,
        storage_backoff=0.01,
        storage_backoff_max=0.02,
    )
    client = start_service(with_metrics(configuration))
    families = scrape(client)
    retries = [s for s in families["model_storage_retries"].samples if s.name.endswith("_total")]
    assert [s.value for s in retries] == [2.0]
    outcomes = [s for s in families["model_package_verifications"].samples if s.name.endswith("_total")]
    assert outcomes == [], "no package was ever verified"


def test_metrics_off_means_no_route_and_apps_never_share_a_registry(
    artifacts: Artifacts, tmp_path: Path, start_service
) -> None:
    store = local_store(tmp_path / "store", artifacts.package)
    before = {metric.name for metric in REGISTRY.collect()}
    off = start_service(service_configuration(minio_url=store, keyring_path=str(artifacts.keyring_file)))
    assert off.app.state.metrics is None
    assert off.get("/metrics").status_code == 404
    first = start_service(
        with_metrics(service_configuration(minio_url=store, keyring_path=str(artifacts.keyring_file)))
    )
    second = start_service(
        with_metrics(service_configuration(minio_url=store, keyring_path=str(artifacts.keyring_file)))
    )
    assert first.app.state.metrics.registry is not second.app.state.metrics.registry
    assert first.post(PREDICT, json={}).status_code == 200
    assert [s.value for s in scrape(second)["http_requests"].samples if s.labels.get("handler") == PREDICT] == []
    after = {metric.name for metric in REGISTRY.collect()}
    assert after == before, "nothing of ours goes into prometheus_client's process-wide registry"
    assert not any(name.startswith(("model_", "http_request")) for name in after)


def test_series_are_labelled_by_route_template_whatever_answered(
    artifacts: Artifacts, tmp_path: Path, start_service
) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(artifacts.keyring_file)
    )
    client = start_service(with_metrics(configuration))
    assert client.get("/api/models/no_such_model/metadata").status_code == 404
    assert client.get("/nowhere/at/all").status_code == 404
    assert client.get(PREDICT).status_code == 405
    assert client.get("/api/health/", follow_redirects=False).status_code == 307
    assert client.get("/docs/static/swagger-ui.css").status_code == 200
    client.get("/metrics")
    families = scrape(client)
    counted = {
        (s.labels["handler"], s.labels["method"], s.labels["status"]): s.value
        for s in families["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert counted[("/api/models/{model_qualified_name}/metadata", "GET", "4xx")] == 1.0
    assert counted[("none", "GET", "4xx")] == 1.0, "a path no route matches has no template"
    assert counted[(PREDICT, "GET", "4xx")] == 1.0, "a 405 is the route's"
    assert counted[("/api/health", "GET", "3xx")] == 1.0, "a slash redirect is named by the route it leads to"
    assert counted[("/docs/static", "GET", "2xx")] == 1.0
    assert counted[("/metrics", "GET", "2xx")] == 1.0
    assert counted[("/api/health/startup", "GET", "2xx")] >= 1.0
    assert "/nowhere/at/all" not in str(counted) and "no_such_model" not in str(counted)


def test_status_grouping_exclusions_and_in_progress_follow_the_metrics_setting(
    artifacts: Artifacts, tmp_path: Path, start_service
) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(artifacts.keyring_file)
    )
    configuration.metrics = MetricsConfiguration(
        enabled=True,
        should_group_status_codes=False,
        excluded_handlers=["^/api/health"],
        should_instrument_requests_inprogress=True,
    )
    client = start_service(configuration)
    assert client.post(PREDICT, json={"body_mass_index": 99}).status_code == 400
    families = scrape(client)
    handlers = {s.labels["handler"] for s in families["http_requests"].samples}
    assert not any(handler.startswith("/api/health") for handler in handlers), handlers
    assert [s.value for s in samples(families, "http_requests", "http_requests_total", handler=PREDICT)] == [1.0]
    assert samples(families, "http_requests", "http_requests_total", handler=PREDICT, status="400")
    (inprogress,) = families["http_requests_inprogress"].samples
    assert inprogress.value == 1.0, "the scrape itself is in progress"


def test_metrics_can_wait_for_an_environment_variable(
    artifacts: Artifacts, tmp_path: Path, start_service, monkeypatch
) -> None:
    configuration = service_configuration(
        minio_url=local_store(tmp_path / "store", artifacts.package), keyring_path=str(artifacts.keyring_file)
    )
    configuration.metrics = MetricsConfiguration(enabled=True, should_respect_env_var=True, env_var_name="DRM_METRICS")
    monkeypatch.delenv("DRM_METRICS", raising=False)
    assert start_service(configuration).get("/metrics").status_code == 404
    monkeypatch.setenv("DRM_METRICS", "true")
    assert start_service(configuration).get("/metrics").status_code == 200
