"""The real pycaret pipeline in fast mode, trained once for this module, and what is built from its outputs.

Covers steps 3-6: the sweetviz report, the six plots, metrics.json (contents and keys), the faithful
itsdangerous step on the real pickle, and the signed package (exact member list, no unsigned pickle,
accepted by the verifier, model usable after verification). No pycaret call is mocked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from itsdangerous import BadSignature

from diabetes_risk_model import __version__
from diabetes_risk_model.errors import ConfigurationError, MissingEnvironmentVariable
from diabetes_risk_model.signing import Expectation, Keyring, verify_package
from diabetes_risk_model.training import FAST
from diabetes_risk_model.training.data import RENAMED_COLUMNS, load_data, rename_columns
from diabetes_risk_model.training.faithful import (
    accepted_signature_variants,
    sign_legacy,
    signing_key_from_env,
    tamper_checks,
    unsign_legacy,
)
from diabetes_risk_model.training.metrics import REQUIRED_KEYS
from diabetes_risk_model.training.package import expected_members, package_file_name, package_model
from diabetes_risk_model.training.run import TrainingResult, prepare_data, train
from diabetes_risk_model.unpickling import restricted_loads

REPO = Path(__file__).resolve().parents[2]
PACKAGE_MEMBERS = [  # written out: the list, plus the signature over it
    "data_report.html",
    "metrics.json",
    "model.pkl",
    "model.sig",
    "plots/auc.png",
    "plots/class_report.png",
    "plots/confusion_matrix.png",
    "plots/feature_importance.png",
    "plots/learning_curve.png",
    "plots/prediction_error.png",
]
METRICS = ["Accuracy", "AUC", "Recall", "Prec.", "F1", "Kappa", "MCC"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


SAMPLED = replace(FAST, sample_rows=3000)
"""Fast mode on a 3,000-row sample: every step and artifact of a real run, in a fraction of the time. The real
fast preset (every row) is trained by tests/test_make_run.py, which checks the features it selects."""
REPORTED: list[str] = []  # what train() reported, as the CLI would print it


@pytest.fixture(scope="module")
def run(diabetes_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    """One real fast-mode training (sweetviz + pycaret) shared by every test in this module."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    output = tmp_path_factory.mktemp("fast-run")
    REPORTED.clear()
    return train(SAMPLED, prepare_data(SAMPLED, diabetes_csv), output, report=REPORTED.append)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.from_env({"PARAMETERS_SIGNING_KEY": os.urandom(24).hex()})


@pytest.fixture(scope="module")
def real_rows(diabetes_csv: Path) -> pd.DataFrame:
    return rename_columns(load_data(diabetes_csv)).sample(2000, random_state=7)


def test_artifacts_directory_holds_exactly_the_run_outputs(run: TrainingResult) -> None:
    files = sorted(str(p.relative_to(run.artifacts_dir)) for p in run.artifacts_dir.rglob("*") if p.is_file())
    assert files == sorted([m for m in PACKAGE_MEMBERS if m != "model.sig"] + ["pycaret.log"])


def test_plots_are_six_real_pngs(run: TrainingResult) -> None:
    assert sorted(run.plots) == [m for m in PACKAGE_MEMBERS if m.startswith("plots/")]
    for path in run.plots.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_data_report_is_sweetviz_html_of_the_renamed_data(run: TrainingResult) -> None:
    html = (run.artifacts_dir / "data_report.html").read_text(encoding="utf-8", errors="replace")
    assert "<html" in html.lower() and "sweetviz" in html.lower()
    assert "HeavyAlchoholConsumption" in html and "HvyAlcoholConsump" not in html


def test_pycaret_tables_are_the_ones_it_printed(run: TrainingResult) -> None:
    assert list(run.compare.table.index) != [] and set(run.compare.table.index) == {"lr", "dt", "gbc"}
    assert "Model" in run.compare.table.columns and set(METRICS) <= set(run.compare.table.columns)
    for step in (run.create, run.tune):
        assert [str(i) for i in step.table.index] == ["0", "1", "Mean", "Std"]
    setup = dict(zip(run.setup.table["Description"], run.setup.table["Value"], strict=True))
    assert setup["Target"] == "Diabetes" and setup["Fold Number"] == 2 and setup["Session id"] == 42
    assert setup["Remove outliers"] and setup["Normalize"] and setup["Feature selection"]
    assert setup["Remove multicollinearity"]


def test_setup_table_is_printed_narrow(run: TrainingResult) -> None:
    """pycaret's setup table holds a multi-line estimator repr; what the CLI prints is one short line per row."""
    printed = next(line for line in REPORTED if "Feature selection estimator" in line)
    widths = [len(row) for row in printed.splitlines()]
    assert len(widths) == len(run.setup.table) + 1 and max(widths) <= 100, max(widths)
    assert "LGBMClassifier(" in printed
    raw = run.setup.table.to_string()
    assert max(len(row) for row in raw.splitlines()) > 200  # what pycaret's own table looks like printed


def test_metrics_json_contents(run: TrainingResult) -> None:
    metrics = json.loads((run.artifacts_dir / "metrics.json").read_text())
    assert set(REQUIRED_KEYS) <= set(metrics)
    assert metrics["mode"] == "fast" and metrics["params"]["folds"] == 2 and metrics["params"]["sample_rows"] == 3000
    assert [r["id"] for r in metrics["compare"]] == list(run.compare.table.index)
    for record in metrics["compare"]:
        assert set(METRICS) <= set(record) and record["Model"]
    for key, step in (("create_cv", run.create), ("tune_cv", run.tune)):
        assert list(metrics[key]) == METRICS
        for metric, summary in metrics[key].items():
            folds = summary["folds"]
            assert len(folds) == 2
            assert summary["mean"] == pytest.approx(np.mean(folds), abs=2e-4)
            assert summary["std"] == pytest.approx(np.std(folds), abs=2e-4)
            assert summary["mean"] == step.table.loc["Mean", metric]
    features = metrics["selected_features"]
    assert features and set(features) <= set(RENAMED_COLUMNS) - {"Diabetes"}
    rows = metrics["rows"]
    assert rows["loaded"] == 70_692 and rows["sampled"] == rows["setup"] == 3000
    assert rows["train"] + rows["test"] == 3000 and rows["test"] == 900
    assert 0 < rows["train_after_outlier_removal"] < rows["train"]  # remove_outliers really removed rows
    assert metrics["versions"] == {
        "python": sys.version.split()[0],
        **{name: metadata.version(name) for name in ("pycaret", "scikit-learn", "lightgbm", "pandas", "numpy")},
    }
    assert metrics["data_sha256"] == "873128ba0264d66a8b09bb6158f21fd4bedc10459d1ed5ecad3b94167a9539b4"
    assert metrics["model"]["class"].endswith("GradientBoostingClassifier")


def test_faithful_itsdangerous_step_on_the_real_pickle(run: TrainingResult) -> None:
    pickled = run.model_pickle.read_bytes()
    key = os.urandom(16).hex()
    signed = sign_legacy(pickled, key)
    assert signed.startswith(pickled + b".")
    assert unsign_legacy(signed, key) == pickled
    checks = tamper_checks(signed, key)
    assert len(checks) == 4 and all(check.refused for check in checks)
    assert {check.error for check in checks} == {"BadSignature"}
    with pytest.raises(BadSignature):
        unsign_legacy(signed, key + "x")
    # The original format's known slack: 2 unused bits in the last base64 character.
    variants = accepted_signature_variants(signed, key)
    assert len(variants) == 3 and all(v != signed and v[:-1] == signed[:-1] for v in variants)
    assert signing_key_from_env({"PARAMETERS_SIGNING_KEY": key}) == key
    with pytest.raises(MissingEnvironmentVariable, match="PARAMETERS_SIGNING_KEY"):
        signing_key_from_env({})


def test_package_members_are_exact_and_signed(run: TrainingResult, keyring: Keyring, tmp_path: Path) -> None:
    package = package_model(run.artifacts_dir, tmp_path, keyring=keyring, parameters_version="2026_01_02")
    assert (
        package.name
        == f"diabetes_risk_model-{__version__}-2026_01_02.zip"
        == package_file_name(__version__, "2026_01_02")
    )
    assert [p.name for p in tmp_path.iterdir()] == [package.name]  # no temporary files left
    with zipfile.ZipFile(package) as archive:
        names = sorted(archive.namelist())
        assert archive.read("model.pkl") == run.model_pickle.read_bytes()
    assert names == PACKAGE_MEMBERS == expected_members()
    assert [n for n in names if n.endswith(".pkl")] == ["model.pkl"]  # no signed_model.pkl, no second pickle
    verified = verify_package(package, keyring.public(), Expectation("diabetes_risk_model", __version__, "2026_01_02"))
    manifest = verified.manifest
    assert (manifest.name, manifest.version, manifest.parameters_version) == (
        "diabetes_risk_model",
        __version__,
        "2026_01_02",
    )
    listed = sorted(member.path for member in manifest.members)
    assert listed == [n for n in PACKAGE_MEMBERS if n != "model.sig"]  # the signature covers model.pkl


def test_packaged_model_predicts_after_verification(
    run: TrainingResult, keyring: Keyring, tmp_path: Path, real_rows: pd.DataFrame
) -> None:
    package = package_model(run.artifacts_dir, tmp_path, keyring=keyring, parameters_version="2026_01_02")
    model = restricted_loads(verify_package(package, keyring).model_bytes)
    features = real_rows.drop(columns=["Diabetes"])
    labels = model.predict(features)
    assert set(np.unique(labels)) <= {0, 1}
    assert (labels == real_rows["Diabetes"].to_numpy()).mean() > 0.6  # a real model, better than chance
    other = Keyring.from_env({"PARAMETERS_SIGNING_KEY": os.urandom(24).hex()})
    with pytest.raises(Exception) as refused:
        verify_package(package, other)
    assert type(refused.value).__module__ == "diabetes_risk_model.errors"


def test_package_refuses_incomplete_artifacts(run: TrainingResult, keyring: Keyring, tmp_path: Path) -> None:
    partial = tmp_path / "artifacts"
    shutil.copytree(run.artifacts_dir, partial)
    (partial / "metrics.json").unlink()
    (partial / "plots" / "auc.png").unlink()
    with pytest.raises(ConfigurationError) as caught:
        package_model(partial, tmp_path / "out", keyring=keyring)
    assert caught.value.context["missing"] == ["metrics.json", "plots/auc.png"]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_cli_package_only_signs_an_earlier_run(run: TrainingResult, tmp_path: Path) -> None:
    output = tmp_path / "out"
    shutil.copytree(run.artifacts_dir, output / "artifacts")
    key = os.urandom(24).hex()
    result = subprocess.run(
        [sys.executable, "-m", "diabetes_risk_model.training", "--package-only", "--no-upload",
         "--output", str(output), "--parameters-version", "2026_03_04"],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), "PARAMETERS_SIGNING_KEY": key},
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    package = output / f"diabetes_risk_model-{__version__}-2026_03_04.zip"
    assert f"package: {package}" in result.stdout
    verify_package(package, Keyring.from_env({"PARAMETERS_SIGNING_KEY": key}))
