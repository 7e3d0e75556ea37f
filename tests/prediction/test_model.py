"""DiabetesRiskModel against a real signed package in the embedded file:// store."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

import pandas as pd
import pytest
from ml_base.ml_model import MLModelSchemaValidationException

from diabetes_risk_model.errors import (
    ConfigurationError,
    MissingEnvironmentVariable,
    ObjectNotFound,
    StorageAccessDenied,
    StorageUnavailable,
    UnsafeArchive,
    UnsafePickle,
    VerificationError,
)
from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.prediction.model import DiabetesRiskModel
from diabetes_risk_model.prediction.retry import RetryPolicy, download_with_retries
from diabetes_risk_model.prediction.schemas import (
    FEATURE_COLUMNS,
    DiabetesRisk,
    DiabetesRiskModelInput,
    DiabetesRiskModelOutput,
)
from diabetes_risk_model.prediction.table import all_keys
from diabetes_risk_model.signing import Key, Keyring
from tests.support.inputs import pipeline_frame, sample_inputs
from tests.support.packages import (
    OBJECT_NAME,
    PARAMETERS_VERSION,
    Artifacts,
    local_store,
    malicious_signed_package,
    replaced_pickle_copy,
    tampered_copy,
)


def original_design_frame(data: DiabetesRiskModelInput) -> pd.DataFrame:
    """The original design's per-call DataFrame: None for every feature but the four the API fills."""
    row: dict[str, object] = {column: None for column in FEATURE_COLUMNS}
    row["BMI"] = data.body_mass_index
    row["GeneralHealth"] = None if data.general_health is None else data.general_health.map()
    row["Age"] = None if data.age is None else data.age.map()
    row["Income"] = None if data.income is None else data.income.map()
    return pd.DataFrame([row], columns=list(FEATURE_COLUMNS))


@pytest.fixture
def model_settings(artifacts: Artifacts, tmp_path: Path) -> dict[str, object]:
    return {
        "model_parameters_version": PARAMETERS_VERSION,
        "model_files_bucket": "model-files",
        "minio_url": local_store(tmp_path / "store", artifacts.package),
        "keyring_path": str(artifacts.keyring_file),
        "storage_attempts": 2,
        "storage_backoff": 0.01,
    }


def test_all_keys_covers_the_whole_input_space() -> None:
    keys = list(all_keys())
    assert len(keys) == 47 * 6 * 14 * 9 == len(set(keys))


@pytest.mark.parametrize("precompute", [True, False])
def test_predictions_equal_the_pipelines_own(
    artifacts: Artifacts, model_settings: dict[str, object], precompute: bool
) -> None:
    model = DiabetesRiskModel(**model_settings, precompute=precompute)
    inputs = sample_inputs(300)
    expected = artifacts.pipeline.predict(pipeline_frame(inputs))
    got = [model.predict(item) for item in inputs]
    assert all(isinstance(answer, DiabetesRiskModelOutput) for answer in got)
    assert [a.diabetes_risk for a in got] == [DiabetesRisk.map(float(label)) for label in expected]
    assert {a.diabetes_risk for a in got} == set(DiabetesRisk), "the sample should exercise both answers"


def test_predictions_equal_the_original_designs_none_filled_frames(
    artifacts: Artifacts, model_settings: dict[str, object]
) -> None:
    model = DiabetesRiskModel(**model_settings)
    for item in sample_inputs(60, seed=11):
        original = DiabetesRisk.map(float(artifacts.pipeline.predict(original_design_frame(item))[0]))
        assert model.predict(item).diabetes_risk is original


def test_the_verified_line_names_the_key_sequence_and_sha256(
    artifacts: Artifacts, model_settings: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="diabetes_risk_model.prediction.loading"):
        model = DiabetesRiskModel(**model_settings)
    (line,) = [record.getMessage() for record in caplog.records if " verified (" in record.getMessage()]
    manifest = model.package.manifest
    assert f"(key id {manifest.key_id}, sequence {manifest.sequence}, sha256 {model.package.sha256})" in line
    assert model.package.sha256 == sha256_file(artifacts.package)


def test_metadata_matches_the_original_design(model_settings: dict[str, object]) -> None:
    model = DiabetesRiskModel(**model_settings)
    assert model.display_name == "Diabetes Risk Model"
    assert model.qualified_name == "diabetes_risk_model"
    assert model.description == "Model to predict the diabetes risk of a patient."
    assert model.version == "0.1.0"
    assert model.input_schema is DiabetesRiskModelInput
    assert model.output_schema is DiabetesRiskModelOutput
    assert model.object_name == f"diabetes_risk_model-0.1.0-{PARAMETERS_VERSION}.zip"


def test_predict_refuses_anything_but_the_input_schema(model_settings: dict[str, object]) -> None:
    model = DiabetesRiskModel(**model_settings)
    with pytest.raises(MLModelSchemaValidationException, match="DiabetesRiskModelInput"):
        model.predict({"body_mass_index": 25})  # type: ignore[arg-type]
    with pytest.raises(MLModelSchemaValidationException):
        model.predict(DiabetesRiskModelOutput(diabetes_risk=DiabetesRisk.DIABETES))


def test_settings_are_read_from_the_environment(
    artifacts: Artifacts, model_settings: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SVC_TEST_KEYRING", str(artifacts.keyring_file))
    monkeypatch.setenv("SVC_TEST_VERSION", PARAMETERS_VERSION)
    settings = dict(model_settings, keyring_path="${SVC_TEST_KEYRING}", model_parameters_version="${SVC_TEST_VERSION}")
    model = DiabetesRiskModel(**settings)
    assert model.model_parameters_version == PARAMETERS_VERSION


def test_a_missing_environment_variable_is_named(model_settings: dict[str, object], monkeypatch) -> None:
    monkeypatch.delenv("SVC_TEST_NOT_SET", raising=False)
    with pytest.raises(MissingEnvironmentVariable) as info:
        DiabetesRiskModel(**dict(model_settings, minio_secret_key="${SVC_TEST_NOT_SET}"))
    assert info.value.name == "SVC_TEST_NOT_SET"
    assert "SVC_TEST_NOT_SET" in str(info.value)


def test_the_original_hmac_key_setting_is_refused(artifacts: Artifacts, tmp_path: Path, monkeypatch):
    secret = secrets.token_urlsafe(32)
    monkeypatch.setenv("SVC_TEST_SIGNING_KEY", secret)
    with pytest.raises(ConfigurationError, match="migrate") as info:
        DiabetesRiskModel(
            model_parameters_version=PARAMETERS_VERSION,
            model_files_bucket="model-files",
            minio_url=local_store(tmp_path / "store", artifacts.package),
            keyring_path=str(artifacts.keyring_file),
            parameters_signing_key="${SVC_TEST_SIGNING_KEY}",
            allow_private_keys=True,
        )
    assert info.value.context["setting"] == "parameters_signing_key" and secret not in str(info.value)


def test_no_verification_key_is_a_configuration_error(model_settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="no verification key"):
        DiabetesRiskModel(**dict(model_settings, keyring_path=None))


def test_no_store_is_a_configuration_error(model_settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="store_url or minio_url"):
        DiabetesRiskModel(**dict(model_settings, minio_url=None))


@pytest.mark.parametrize("setting", ["storage_attempts", "storage_timeout", "min_sequence"])
def test_a_non_numeric_setting_is_named(model_settings: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigurationError, match=setting):
        DiabetesRiskModel(**dict(model_settings, **{setting: "many"}))


def test_relative_file_url_resolves_against_the_working_directory(
    artifacts: Artifacts, model_settings: dict[str, object], tmp_path: Path, monkeypatch
) -> None:
    local_store(tmp_path / "here" / "store", artifacts.package)
    monkeypatch.chdir(tmp_path / "here")
    model = DiabetesRiskModel(**dict(model_settings, minio_url="file:./store"))
    assert model.store_url == (tmp_path / "here" / "store").resolve().as_uri()


def test_a_wrong_key_refuses_the_package(artifacts: Artifacts, model_settings: dict[str, object], tmp_path, caplog):
    other = Keyring([Key.generate("service-tests", "ecdsa-p256")]).public()
    other_file = other.save(tmp_path / "other-keyring.json")
    with caplog.at_level(logging.INFO), pytest.raises(VerificationError):
        DiabetesRiskModel(**dict(model_settings, keyring_path=str(other_file)))
    assert "refused, nothing was unpickled" in caplog.text


def test_rollback_below_min_sequence_is_refused(model_settings: dict[str, object]) -> None:
    with pytest.raises(VerificationError, match="rollback"):
        DiabetesRiskModel(**dict(model_settings, min_sequence=2**62))


def test_another_parameters_version_is_not_found(model_settings: dict[str, object]) -> None:
    with pytest.raises(ObjectNotFound):
        DiabetesRiskModel(**dict(model_settings, model_parameters_version="1999_01_01"))


def test_a_changed_byte_is_refused_and_never_unpickled(
    artifacts: Artifacts, model_settings: dict[str, object], tmp_path: Path, caplog
) -> None:
    tampered = tampered_copy(artifacts.package, tmp_path / "tampered.zip")
    settings = dict(model_settings, minio_url=local_store(tmp_path / "bad-store", tampered))
    with caplog.at_level(logging.INFO), pytest.raises(VerificationError):
        DiabetesRiskModel(**settings)
    assert "refused, nothing was unpickled" in caplog.text


def test_a_replaced_pickle_is_refused_and_never_unpickled(
    artifacts: Artifacts, model_settings: dict[str, object], tmp_path: Path, caplog
) -> None:
    marker = tmp_path / "unpickled.marker"
    tampered = replaced_pickle_copy(artifacts.package, tmp_path / "tampered.zip", marker)
    settings = dict(model_settings, minio_url=local_store(tmp_path / "bad-store", tampered))
    with caplog.at_level(logging.INFO), pytest.raises(VerificationError):
        DiabetesRiskModel(**settings)
    assert not marker.exists()
    assert "refused, nothing was unpickled" in caplog.text


def test_signed_but_malicious_pickle_is_refused_by_the_restricted_unpickler(
    model_settings: dict[str, object], tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled.marker"
    signing = Keyring([Key.generate("poisoned", "ecdsa-p256")])
    package = malicious_signed_package(tmp_path / "evil", marker, signing)
    settings = dict(
        model_settings,
        minio_url=local_store(tmp_path / "evil-store", package),
        keyring_path=str(signing.public().save(tmp_path / "evil-keyring.json")),
    )
    with pytest.raises(UnsafePickle):
        DiabetesRiskModel(**settings)
    assert not marker.exists()


# -- the retry policy ------------------------------------------------------------------------


def test_retries_while_unavailable_then_succeeds(tmp_path: Path, caplog) -> None:
    calls: list[int] = []
    slept: list[float] = []

    def fetch() -> Path:
        calls.append(1)
        if len(calls) < 3:
            raise StorageUnavailable("cannot reach 127.0.0.1:1 (ConnectionRefusedError)")
        return tmp_path

    policy = RetryPolicy(attempts=5, backoff=0.5, backoff_max=0.75)
    with caplog.at_level(logging.WARNING):
        assert download_with_retries(fetch, policy, "http://127.0.0.1:1/bucket/x.zip", sleep=slept.append) == tmp_path
    assert len(calls) == 3
    assert len(slept) == 2
    assert 0.375 <= slept[0] <= 0.625 and 0.5625 <= slept[1] <= 0.9375  # backoff with +-25 % jitter, capped
    assert caplog.text.count("waiting for storage at http://127.0.0.1:1/bucket/x.zip (attempt") == 2


def test_retries_are_bounded(caplog) -> None:
    calls: list[int] = []

    def fetch() -> Path:
        calls.append(1)
        raise StorageUnavailable("down")

    with caplog.at_level(logging.WARNING), pytest.raises(StorageUnavailable):
        download_with_retries(fetch, RetryPolicy(attempts=4), "store", sleep=lambda _: None)
    assert len(calls) == 4
    assert "still unavailable after 4 attempts, giving up" in caplog.text


def test_permanent_storage_errors_are_not_retried() -> None:
    calls: list[int] = []

    def fetch() -> Path:
        calls.append(1)
        raise StorageAccessDenied("access denied")

    with pytest.raises(StorageAccessDenied):
        download_with_retries(fetch, RetryPolicy(attempts=5), "store", sleep=lambda _: None)
    assert len(calls) == 1


def test_retry_policy_refuses_nonsense() -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigurationError):
        RetryPolicy(timeout=0)


def _legacy_package(artifacts: Artifacts, secret: str, root: Path) -> str:
    """A package in the original design's format: signed_model.pkl = pickle + '.' + itsdangerous signature."""
    import zipfile

    from itsdangerous import Signer

    package = root / "src" / OBJECT_NAME
    package.parent.mkdir(parents=True)
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("signed_model.pkl", Signer(secret).sign(artifacts.model_pickle.read_bytes()))
    return local_store(root / "store", package)


def test_the_original_format_is_never_served(artifacts: Artifacts, tmp_path: Path) -> None:
    """A validly signed original-format package in the store is refused: it is not our format."""
    settings = {
        "model_parameters_version": PARAMETERS_VERSION,
        "model_files_bucket": "model-files",
        "minio_url": _legacy_package(artifacts, secrets.token_urlsafe(32), tmp_path),
        "keyring_path": str(artifacts.keyring_file),
        "storage_attempts": 1,
    }
    with pytest.raises(UnsafeArchive):
        DiabetesRiskModel(**settings)
