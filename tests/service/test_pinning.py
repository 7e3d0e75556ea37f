"""Pinned deployments: package_sha256 and min_sequence, attacked by someone with write access to the bucket.

The attacker holds old, validly signed packages (they were published once) and can replace the object in
MinIO. Pinning the package file's digest refuses anything but the pinned bytes; min_sequence refuses
anything older than the deployed sequence even without a pin.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import BindingMismatch, ConfigurationError, Rollback
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.model import DiabetesRiskModel
from tests.support.packages import PACKAGE_SEQUENCE, Artifacts, local_store, tampered_copy
from tests.support.service import assert_refused, docker_configuration, upload


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]


@pytest.fixture(scope="module")
def older_package(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A validly signed package of the same name and parameters version, published before the deployed one."""
    return artifacts.package_with(tmp_path_factory.mktemp("older"), sequence=PACKAGE_SEQUENCE - 3)


@pytest.fixture(scope="module")
def newer_package(artifacts: Artifacts, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A validly signed package with a higher sequence that is not the pinned one (a leaked key, or a mistake)."""
    return artifacts.package_with(tmp_path_factory.mktemp("newer"), sequence=PACKAGE_SEQUENCE + 1)


def test_replacing_the_object_with_older_or_other_signed_packages_is_refused_in_minio(
    minio_server: Any,
    artifacts: Artifacts,
    older_package: Path,
    newer_package: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_service: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pinned = sha256_file(artifacts.package)
    pins = {"package_sha256": pinned, "min_sequence": PACKAGE_SEQUENCE}

    # 1. The attacker replaces the object with an older, validly signed package: not ready, one refusal line.
    upload(minio_server, older_package)
    with caplog.at_level(logging.INFO):
        client = start_service(docker_configuration(minio_server, artifacts, monkeypatch, **pins))
    assert_refused(client)
    (line,) = refusals(caplog)
    assert "BindingMismatch: package_sha256" in line and pinned in line and sha256_file(older_package) in line
    assert "nothing was unpickled" in line

    # 2. The pinned bytes are put back: ready.
    caplog.clear()
    upload(minio_server, artifacts.package)
    with caplog.at_level(logging.INFO):
        client = start_service(docker_configuration(minio_server, artifacts, monkeypatch, **pins))
    assert client.get("/api/health/ready").status_code == 200
    assert client.post("/api/models/diabetes_risk_model/prediction", json={"age": "EIGHTY_OR_OLDER"}).status_code == 200
    assert refusals(caplog) == []

    # 3. A different package with a higher sequence, validly signed, but not the pinned digest: refused.
    caplog.clear()
    upload(minio_server, newer_package)
    with caplog.at_level(logging.INFO):
        client = start_service(docker_configuration(minio_server, artifacts, monkeypatch, **pins))
    assert_refused(client)
    (line,) = refusals(caplog)
    assert "BindingMismatch: package_sha256" in line and sha256_file(newer_package) in line


def test_min_sequence_alone_refuses_the_older_package_in_minio(
    minio_server: Any,
    artifacts: Artifacts,
    older_package: Path,
    monkeypatch: pytest.MonkeyPatch,
    start_service: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    upload(minio_server, older_package)
    settings = {"package_sha256": "", "min_sequence": PACKAGE_SEQUENCE}  # not pinned: only the sequence protects
    with caplog.at_level(logging.INFO):
        client = start_service(docker_configuration(minio_server, artifacts, monkeypatch, **settings))
    assert_refused(client)
    (line,) = refusals(caplog)
    assert f"Rollback: sequence {PACKAGE_SEQUENCE - 3} is below the minimum {PACKAGE_SEQUENCE}" in line


# -- the same rules without a server ---------------------------------------------------------------


def test_the_pin_is_checked_before_verification(
    model_settings: dict[str, Any], artifacts: Artifacts, older_package: Path, tmp_path: Path
) -> None:
    pinned = sha256_file(older_package)
    model = DiabetesRiskModel(
        **dict(model_settings, minio_url=local_store(tmp_path / "old", older_package), package_sha256=pinned.upper())
    )
    assert model.package.sha256 == pinned  # any case is accepted
    with pytest.raises(BindingMismatch) as info:
        DiabetesRiskModel(**dict(model_settings, package_sha256=pinned))
    assert (info.value.field, info.value.expected, info.value.found) == (
        "package_sha256",
        pinned,
        sha256_file(artifacts.package),
    )
    # A package that would fail verification is refused on its digest first: nothing else read it.
    tampered = tampered_copy(artifacts.package, tmp_path / "tampered.zip")
    with pytest.raises(BindingMismatch, match="package_sha256"):
        DiabetesRiskModel(
            **dict(
                model_settings,
                minio_url=local_store(tmp_path / "bad", tampered),
                package_sha256=sha256_file(artifacts.package),
            )
        )


def test_rollback_below_min_sequence(model_settings: dict[str, Any], artifacts: Artifacts) -> None:
    assert (
        DiabetesRiskModel(**dict(model_settings, min_sequence=PACKAGE_SEQUENCE)).package.manifest.sequence
        == PACKAGE_SEQUENCE
    )
    with pytest.raises(Rollback):
        DiabetesRiskModel(**dict(model_settings, min_sequence=PACKAGE_SEQUENCE + 1))


@pytest.mark.parametrize("value", ["abc", "g" * 64, "0" * 63, 12])
def test_a_malformed_pin_is_a_configuration_error(model_settings: dict[str, Any], value: object) -> None:
    with pytest.raises(ConfigurationError, match="package_sha256"):
        DiabetesRiskModel(**dict(model_settings, package_sha256=value))


def test_pins_are_read_from_the_environment(
    model_settings: dict[str, Any], artifacts: Artifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_PACKAGE_SHA256", sha256_file(artifacts.package))
    monkeypatch.setenv("MODEL_MIN_SEQUENCE", str(PACKAGE_SEQUENCE))
    model = DiabetesRiskModel(
        **dict(model_settings, package_sha256="${MODEL_PACKAGE_SHA256}", min_sequence="${MODEL_MIN_SEQUENCE}")
    )
    assert model.settings.package_sha256 == sha256_file(artifacts.package)
    assert model.settings.min_sequence == PACKAGE_SEQUENCE
    monkeypatch.setenv("MODEL_MIN_SEQUENCE", "-1")
    with pytest.raises(ConfigurationError, match="min_sequence"):
        DiabetesRiskModel(**dict(model_settings, min_sequence="${MODEL_MIN_SEQUENCE}"))
