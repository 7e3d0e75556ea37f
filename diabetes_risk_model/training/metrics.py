"""Step 6a: ``metrics.json``, the record of what a package's model scored and what produced it.

It travels inside the signed package, so a reviewer can see — without unpickling anything — how the model
was chosen (the compare table), how it scored in cross-validation before and after tuning (mean and std of
every metric), which features it uses, how many rows it saw, and with which library versions.
"""

from __future__ import annotations

import json
import math
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from diabetes_risk_model.errors import DataError
from diabetes_risk_model.files import atomic_writer

METRICS_NAME = "metrics.json"
SCHEMA_VERSION = 1
VERSIONED_LIBRARIES: tuple[str, ...] = ("pycaret", "scikit-learn", "lightgbm", "pandas", "numpy")
REQUIRED_KEYS: tuple[str, ...] = (
    "schema_version", "created_at", "mode", "params", "compare", "create_cv", "tune_cv",
    "selected_features", "rows", "versions",
)  # fmt: skip


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries whose behaviour shapes the pickled pipeline."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _json_number(value: Any) -> Any:
    """Plain JSON scalars: numpy numbers become Python numbers, NaN/inf become None (JSON has neither)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A pycaret table as a list of row objects; the index (model id, fold) becomes the ``id`` field."""
    records = []
    for index, row in table.iterrows():
        record: dict[str, Any] = {"id": str(index)}
        record.update({str(column): _json_number(value) for column, value in row.items()})
        records.append(record)
    return records


def cv_summary(table: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Mean and std per metric from a create/tune CV table, plus the per-fold values.

    pycaret's CV tables are indexed by fold number then ``Mean`` and ``Std``; a table without those two
    rows is not a CV table and is refused rather than summarised wrongly.
    """
    index = [str(value) for value in table.index]
    if "Mean" not in index or "Std" not in index:
        raise DataError("not a pycaret cross-validation table (no Mean/Std rows)", index=index)
    labelled = table.copy()
    labelled.index = index
    folds = [label for label in index if label not in ("Mean", "Std")]
    return {
        str(metric): {
            "mean": _json_number(labelled.at["Mean", metric]),
            "std": _json_number(labelled.at["Std", metric]),
            "folds": [_json_number(labelled.at[fold, metric]) for fold in folds],
        }
        for metric in labelled.columns
    }


def build_metrics(
    *,
    mode: str,
    params: dict[str, Any],
    compare_table: pd.DataFrame,
    create_table: pd.DataFrame,
    tune_table: pd.DataFrame,
    selected_features: list[str],
    rows: dict[str, int],
    model: dict[str, Any] | None = None,
    timings: dict[str, float] | None = None,
    data_sha256: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """Assemble the metrics document (see :data:`REQUIRED_KEYS`)."""
    created = (created_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "schema_version": SCHEMA_VERSION,
        "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mode": mode,
        "params": params,
        "compare": table_records(compare_table),
        "create_cv": cv_summary(create_table),
        "tune_cv": cv_summary(tune_table),
        "selected_features": list(selected_features),
        "rows": {key: int(value) for key, value in rows.items()},
        "model": model or {},
        "timings_seconds": {key: round(float(value), 3) for key, value in (timings or {}).items()},
        "data_sha256": data_sha256,
        "versions": library_versions(),
    }


def write_metrics(metrics: dict[str, Any], path: Path) -> Path:
    """Write *metrics* as indented UTF-8 JSON, atomically (through :func:`diabetes_risk_model.files.atomic_writer`)."""
    missing = [key for key in REQUIRED_KEYS if key not in metrics]
    if missing:
        raise DataError("metrics document lacks keys: " + ", ".join(missing), missing=missing)
    path = Path(path)
    text = json.dumps(metrics, indent=2, allow_nan=False) + "\n"  # pycaret's column order kept
    with atomic_writer(path) as handle:
        handle.write(text.encode("utf-8"))
    return path
