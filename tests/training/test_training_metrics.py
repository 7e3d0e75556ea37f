"""metrics.json building blocks: CV summaries, JSON safety, atomic writing, and the printed summary."""

from __future__ import annotations

import json
import math
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from diabetes_risk_model.errors import DataError
from diabetes_risk_model.training.metrics import (
    REQUIRED_KEYS,
    build_metrics,
    cv_summary,
    library_versions,
    table_records,
    write_metrics,
)
from diabetes_risk_model.training.summary import cv_frame, format_summary, main

METRIC_COLUMNS = ["Accuracy", "AUC", "Recall", "Prec.", "F1", "Kappa", "MCC"]


def _cv_table(folds: int = 3, seed: int = 0) -> pd.DataFrame:
    """A table shaped like pycaret's pull() after create_model: folds 0..n-1, then Mean and Std (rounded to 4)."""
    values = np.random.default_rng(seed).uniform(0.5, 0.8, size=(folds, len(METRIC_COLUMNS)))
    frame = pd.DataFrame(values, columns=METRIC_COLUMNS)
    frame.loc["Mean"] = frame.mean()
    frame.loc["Std"] = frame.iloc[:folds].std(ddof=0)
    frame.index.name = "Fold"
    return frame.round(4)


def _compare_table() -> pd.DataFrame:
    rows = {
        "gbc": ["Gradient Boosting Classifier", 0.75, 0.82, 0.79, 0.73, 0.76, 0.5, 0.5, 3.2],
        "lr": ["Logistic Regression", 0.74, np.float64(0.81), 0.76, 0.73, 0.75, 0.48, 0.48, float("nan")],
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["Model", *METRIC_COLUMNS, "TT (Sec)"])


def _metrics(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "mode": "fast",
        "params": {"model_id": "gbc", "tune_iterations": 2},
        "compare_table": _compare_table(),
        "create_table": _cv_table(seed=1),
        "tune_table": _cv_table(seed=2),
        "selected_features": ["BMI", "Age"],
        "rows": {"loaded": np.int64(10), "sampled": 10},
    }
    fields.update(overrides)
    return build_metrics(**fields)  # type: ignore[arg-type]


def test_cv_summary_has_mean_std_and_folds_per_metric() -> None:
    table = _cv_table()
    summary = cv_summary(table)
    assert list(summary) == METRIC_COLUMNS
    for metric in METRIC_COLUMNS:
        assert summary[metric]["mean"] == table.at["Mean", metric]
        assert summary[metric]["std"] == table.at["Std", metric]
        assert summary[metric]["folds"] == table[metric].iloc[:3].tolist()
        assert all(type(value) is float for value in summary[metric]["folds"])


def test_cv_summary_refuses_a_table_that_is_not_cross_validation() -> None:
    with pytest.raises(DataError, match="Mean/Std"):
        cv_summary(_compare_table())


def test_compare_records_keep_model_ids_order_and_turn_nan_into_null() -> None:
    records = table_records(_compare_table())
    assert [record["id"] for record in records] == ["gbc", "lr"]
    assert list(records[0]) == ["id", "Model", *METRIC_COLUMNS, "TT (Sec)"]
    assert records[1]["TT (Sec)"] is None
    assert type(records[1]["AUC"]) is float


def test_build_metrics_has_every_required_key_and_is_strict_json() -> None:
    metrics = _metrics()
    assert set(REQUIRED_KEYS) <= set(metrics)
    assert metrics["rows"] == {"loaded": 10, "sampled": 10}
    assert metrics["created_at"].endswith("Z")  # type: ignore[union-attr]
    json.dumps(metrics, allow_nan=False)  # no NaN, no numpy types


def test_library_versions_are_the_installed_ones() -> None:
    versions = library_versions()
    assert set(versions) == {"python", "pycaret", "scikit-learn", "lightgbm", "pandas", "numpy"}
    assert versions["pycaret"] == metadata.version("pycaret") == "3.3.2"
    assert versions["scikit-learn"].startswith("1.4.")
    assert versions["python"].startswith("3.11.")


def test_write_metrics_is_atomic_and_refuses_incomplete_documents(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    incomplete = _metrics()
    del incomplete["tune_cv"]
    with pytest.raises(DataError, match="tune_cv"):
        write_metrics(incomplete, path)
    assert list(tmp_path.iterdir()) == []
    unserialisable = {**_metrics(), "rows": {"x": math.inf}}
    with pytest.raises(ValueError):
        write_metrics(unserialisable, path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind either
    write_metrics(_metrics(), path)
    assert json.loads(path.read_text())["mode"] == "fast"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_summary_rebuilds_the_cv_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _cv_table(seed=2)
    metrics = json.loads(json.dumps(_metrics()))
    rebuilt = cv_frame(metrics, "tune_cv")
    assert rebuilt.to_numpy().tolist() == table.to_numpy().tolist()
    assert list(rebuilt.index) == ["0", "1", "2", "Mean", "Std"]
    text = format_summary(metrics, wall_time=125.0)
    assert "Gradient Boosting Classifier" in text and "wall time: 125 s" in text
    path = write_metrics(_metrics(), tmp_path / "metrics.json")
    assert main([str(path)]) == 0
    assert "compare_models:" in capsys.readouterr().out
    assert main([str(tmp_path / "absent.json")]) == 1
    assert capsys.readouterr().err.startswith("error: cannot summarise")
