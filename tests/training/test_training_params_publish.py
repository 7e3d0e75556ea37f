"""Presets (full = the original design, fast = CI), package naming, and the upload step against a file store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from diabetes_risk_model import __version__
from diabetes_risk_model.errors import ConfigurationError
from diabetes_risk_model.training import FAST, FULL, params_for
from diabetes_risk_model.training.package import package_file_name, parameters_version_for
from diabetes_risk_model.training.publish import publish


def test_full_preset_is_the_original_design() -> None:
    assert FULL.mode == "full" and FULL.sample_rows is None and FULL.compare_include is None
    assert (FULL.folds, FULL.model_id, FULL.tune_iterations, FULL.tune_optimize, FULL.session_id) == (
        10, "gbc", 10, "F1", 42,
    )  # fmt: skip
    assert FULL.plots == ("auc", "confusion_matrix", "class_report", "error", "feature", "learning")


def test_fast_preset_is_small_and_overridable() -> None:
    # Every row, as the full run: on a 3,000- or 10,000-row sample feature selection swapped GeneralHealth, an
    # API input, for PhysicalHealth. Fewer folds, models and tuning iterations make the mode fast.
    assert FAST.mode == "fast" and FAST.sample_rows is None and FAST.folds == 2 and FAST.tune_iterations == 2
    assert FAST.compare_include is not None and "gbc" in FAST.compare_include
    assert params_for("fast") == FAST and params_for("full") == FULL
    assert params_for("fast", sample_rows=5000, compare_include=["lr"]).compare_include == ("lr",)
    assert params_for("fast", sample_rows=None) == FAST  # None means "keep the preset's value"
    assert params_for("fast", sample_rows=3000).sample_rows == 3000
    assert FAST.to_dict()["compare_include"] == list(FAST.compare_include)


@pytest.mark.parametrize(
    ("call", "setting"),
    [
        (lambda: params_for("quick"), "mode"),
        (lambda: params_for("fast", sample_rows=10), "sample_rows"),
        (lambda: params_for("fast", folds=1), "folds"),
        (lambda: params_for("fast", tune_iterations=0), "tune_iterations"),
        (lambda: params_for("fast", plots=("auc", "pie")), "plots"),
    ],
)
def test_bad_parameters_are_configuration_errors(call, setting: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError) as caught:
        call()
    assert caught.value.context["setting"] == setting


def test_package_name_uses_the_utc_date() -> None:
    late_evening_west = datetime(2026, 3, 16, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert parameters_version_for(late_evening_west) == "2026_03_17"
    assert package_file_name("0.1.0", "2023_03_17") == "diabetes_risk_model-0.1.0-2023_03_17.zip"
    today = datetime.now(UTC).strftime("%Y_%m_%d")
    assert package_file_name() in {f"diabetes_risk_model-{__version__}-{today}.zip"}


def test_publish_uploads_under_the_package_name(tmp_path: Path) -> None:
    package = tmp_path / "diabetes_risk_model-0.1.0-2026_01_02.zip"
    package.write_bytes(b"bytes the store moves but does not vouch for")
    store_root = tmp_path / "store"
    name = publish(package, environ={"MINIO_URL": f"file://{store_root}", "MODEL_FILES_BUCKET": "models"},
                   progress=False)  # fmt: skip
    assert name == package.name
    assert (store_root / "models" / package.name).read_bytes() == package.read_bytes()


def test_published_line_has_the_sequence_from_the_manifest_and_the_file_digest(tmp_path: Path) -> None:
    from diabetes_risk_model.files import sha256_file
    from diabetes_risk_model.signing import Keyring, build_package
    from diabetes_risk_model.storage import published_line
    from diabetes_risk_model.training.publish import package_pin

    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x04N.")  # pickle of None: never unpickled here
    keyring = Keyring.from_env({"PARAMETERS_SIGNING_KEY": "k" * 32})
    package = build_package(tmp_path / "out", name="diabetes_risk_model", version=__version__,
                            parameters_version="2026_01_02", model_pickle=model, extra_members={},
                            keyring=keyring, sequence=41)  # fmt: skip
    pin = package_pin(package, keyring)
    assert pin.sequence == 41 and pin.sha256 == sha256_file(package)
    line = published_line(package.name, pin)
    assert line == f"published {package.name} sequence=41 sha256={sha256_file(package)}"
    assert len(line.split()) == 4 and len(pin.sha256) == 64


def test_publish_refuses_a_missing_package_and_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        publish(tmp_path / "absent.zip", environ={"MINIO_URL": f"file://{tmp_path}"})
    package = tmp_path / "p.zip"
    package.write_bytes(b"x")
    with pytest.raises(ConfigurationError, match="MINIO_URL"):
        publish(package, environ={})
