"""Steps 1-2: finding, loading, validating and renaming the data, and the CLI's one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from diabetes_risk_model.errors import DataError, DataNotFound, SchemaMismatch
from diabetes_risk_model.signing import Key, Keyring
from diabetes_risk_model.training.data import (
    ORIGINAL_COLUMNS,
    kaggle_credentials_available,
    load_data,
    locate_data,
    rename_columns,
    stratified_sample,
)

REPO = Path(__file__).resolve().parents[2]

# Written out on purpose (not imported): the test is the specification of the issue's exact renames.
EXPECTED_RENAMED = [
    "Diabetes", "HighBloodPressure", "HighCholesterol", "CholesterolChecked", "BMI", "Smoker", "Stroke",
    "HeartDiseaseOrHeartAttack", "PhysicalActivity", "Fruits", "Veggies", "HeavyAlchoholConsumption",
    "AnyHealthcare", "NoDoctorsVisitBecauseOfCost", "GeneralHealth", "MentalHealth", "PhysicalHealth",
    "DifficultyWalking", "Sex", "Age", "Education", "Income",
]  # fmt: skip


def _no_sources(tmp_path: Path) -> dict[str, str]:
    """An environment with neither $DIABETES_DATA nor any Kaggle credentials (HOME is an empty directory)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"HOME": str(home)}


def _write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def real_head(diabetes_csv: Path) -> pd.DataFrame:
    return pd.read_csv(diabetes_csv, nrows=200)


def test_neither_source_is_one_message_naming_both_ways(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound) as caught:
        locate_data(None, environ=_no_sources(tmp_path), default=tmp_path / "data" / "absent.csv")
    message = str(caught.value)
    assert "DIABETES_DATA" in message
    assert "Kaggle" in message and "kaggle.json" in message
    assert "alexteboul/diabetes-health-indicators-dataset" in message
    assert "\n" not in message


def test_explicit_missing_path_is_named_and_not_replaced_by_another_file(tmp_path: Path, diabetes_csv: Path) -> None:
    missing = tmp_path / "nope.csv"
    env = {**_no_sources(tmp_path), "DIABETES_DATA": str(diabetes_csv)}
    with pytest.raises(DataNotFound) as caught:
        locate_data(missing, environ=env)
    assert str(missing) in str(caught.value)
    assert caught.value.context["path"] == str(missing)


def test_missing_file_from_environment_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "gone.csv"
    with pytest.raises(DataNotFound) as caught:
        locate_data(None, environ={**_no_sources(tmp_path), "DIABETES_DATA": str(missing)})
    assert str(missing) in str(caught.value) and "DIABETES_DATA" in str(caught.value)


def test_order_explicit_then_environment_then_default(tmp_path: Path, diabetes_csv: Path) -> None:
    default = _write_csv(tmp_path / "default.csv", pd.DataFrame({"a": [1]}))
    env = {**_no_sources(tmp_path), "DIABETES_DATA": str(diabetes_csv)}
    assert locate_data(default, environ=env, default=default) == default
    assert locate_data(None, environ=env, default=default) == diabetes_csv
    assert locate_data(None, environ=_no_sources(tmp_path), default=default) == default


def test_kaggle_credentials_detection(tmp_path: Path) -> None:
    env = _no_sources(tmp_path)
    assert not kaggle_credentials_available(env)
    assert kaggle_credentials_available({**env, "KAGGLE_USERNAME": "someone", "KAGGLE_KEY": "x"})
    assert not kaggle_credentials_available({**env, "KAGGLE_USERNAME": "someone"})
    config = tmp_path / "home" / ".kaggle"
    config.mkdir()
    (config / "kaggle.json").write_text("{}")
    assert kaggle_credentials_available(env)


def test_missing_file_passed_to_load_data(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound):
        load_data(tmp_path / "missing.csv")


def test_wrong_columns_are_named(tmp_path: Path, real_head: pd.DataFrame) -> None:
    broken = real_head.drop(columns=["HvyAlcoholConsump", "Income"]).assign(Shoe_size=1.0)
    with pytest.raises(SchemaMismatch) as caught:
        load_data(_write_csv(tmp_path / "broken.csv", broken))
    assert caught.value.missing == ["HvyAlcoholConsump", "Income"]
    assert caught.value.unexpected == ["Shoe_size"]
    assert "HvyAlcoholConsump" in str(caught.value) and "Shoe_size" in str(caught.value)


def test_already_renamed_file_is_refused_with_the_difference(tmp_path: Path, real_head: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        load_data(_write_csv(tmp_path / "renamed.csv", rename_columns(real_head)))
    assert "Diabetes_binary" in caught.value.missing
    assert "HeavyAlchoholConsumption" in caught.value.unexpected


def test_repeated_header_is_refused(tmp_path: Path, real_head: pd.DataFrame) -> None:
    path = tmp_path / "repeated.csv"
    text = real_head.to_csv(index=False).splitlines()
    path.write_text("\n".join([text[0] + ",BMI", *(line + ",1.0" for line in text[1:])]) + "\n")
    with pytest.raises(SchemaMismatch) as caught:
        load_data(path)
    assert caught.value.unexpected == ["BMI.1"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "not a readable CSV"),
        (",".join(ORIGINAL_COLUMNS) + "\n", "no rows"),
    ],
)
def test_empty_inputs_are_data_errors(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(DataError) as caught:
        load_data(path)
    assert fragment in str(caught.value)


def test_non_numeric_missing_and_bad_target_values_are_named(tmp_path: Path, real_head: pd.DataFrame) -> None:
    text = real_head.astype(object).copy()
    text.loc[3, "BMI"] = "heavy"
    with pytest.raises(DataError, match="non-numeric values in columns: BMI"):
        load_data(_write_csv(tmp_path / "text.csv", text))
    holes = real_head.copy()
    holes.loc[5, "Age"] = None
    with pytest.raises(DataError, match="missing values in columns: Age"):
        load_data(_write_csv(tmp_path / "holes.csv", holes))
    three = real_head.copy()
    three.loc[0, "Diabetes_binary"] = 2.0
    with pytest.raises(DataError, match="only 0 and 1"):
        load_data(_write_csv(tmp_path / "three.csv", three))


def test_real_csv_loads_whole(diabetes_csv: Path) -> None:
    frame = load_data(diabetes_csv)
    assert frame.shape == (70_692, 22)
    assert list(frame.columns) == list(ORIGINAL_COLUMNS)
    assert frame["Diabetes_binary"].dtype == "int64"
    assert frame["Diabetes_binary"].value_counts().to_dict() == {0: 35_346, 1: 35_346}
    assert frame["BMI"].dtype == "float64"  # features keep the CSV's floats, as the service sends them


def test_rename_is_exactly_the_issue_mapping(real_head: pd.DataFrame) -> None:
    renamed = rename_columns(real_head)
    assert list(renamed.columns) == EXPECTED_RENAMED
    assert "HeavyAlchoholConsumption" in renamed.columns  # the shared misspelling is kept
    assert (renamed.to_numpy() == real_head.to_numpy()).all()  # values untouched
    assert list(real_head.columns) == list(ORIGINAL_COLUMNS)  # the input is not modified


def test_rename_refuses_a_frame_with_other_columns(real_head: pd.DataFrame) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        rename_columns(real_head.drop(columns=["Sex"]))
    assert caught.value.missing == ["Sex"]


def test_stratified_sample_keeps_class_balance(diabetes_csv: Path) -> None:
    frame = rename_columns(load_data(diabetes_csv))
    sample = stratified_sample(frame, 3000, seed=42)
    assert len(sample) == 3000
    assert sample["Diabetes"].sum() == 1500
    assert sample.index.is_unique and sample.index.isin(frame.index).all()
    again = stratified_sample(frame, 3000, seed=42)
    assert sample.index.equals(again.index)  # reproducible
    assert stratified_sample(frame, None) is frame


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model.training", *args],
        cwd=REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_help_lists_the_options(tmp_path: Path) -> None:
    result = _cli("--help", env=_no_sources(tmp_path))
    assert result.returncode == 0
    for option in ("--fast", "--data", "--output", "--no-upload"):
        assert option in result.stdout


def test_cli_without_signing_key_fails_before_training(tmp_path: Path, diabetes_csv: Path) -> None:
    result = _cli("--fast", "--data", str(diabetes_csv), "--output", str(tmp_path / "out"), env=_no_sources(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: environment variable MODEL_KEYRING is not set (no signing/verification keys)"
    ]
    assert not (tmp_path / "out").exists()  # nothing trained, nothing half-written


def _signing_env(tmp_path: Path) -> dict[str, str]:
    ring = Keyring([Key.generate("training-test")]).save(tmp_path / "keys" / "ring.json")
    return {**_no_sources(tmp_path), "MODEL_KEYRING": str(ring)}


def test_cli_without_data_is_one_readable_line(tmp_path: Path) -> None:
    env = _signing_env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model.training", "--fast", "--no-upload", "--output", "out"],
        cwd=tmp_path,  # no data/ here
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no training data")
    assert "DIABETES_DATA" in lines[0] and "Kaggle" in lines[0]


def test_cli_missing_store_settings_fail_before_training(tmp_path: Path, diabetes_csv: Path) -> None:
    env = _signing_env(tmp_path)
    result = _cli("--fast", "--data", str(diabetes_csv), "--output", str(tmp_path / "out"), env=env)
    assert result.returncode == 1
    assert "MINIO_URL" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
