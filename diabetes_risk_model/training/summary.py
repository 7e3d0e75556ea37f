"""Print a run's compare and tune tables from its ``metrics.json`` (``make reproduce`` ends with this).

python -m diabetes_risk_model.training.summary output/notebook/artifacts/metrics.json [--wall-time SECONDS]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diabetes_risk_model.errors import DataError


def compare_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """The compare_models table as pycaret showed it (model id as index)."""
    return pd.DataFrame(metrics["compare"]).set_index("id").rename_axis(None)


def cv_frame(metrics: dict[str, Any], key: str) -> pd.DataFrame:
    """A create/tune CV table rebuilt from metrics.json: one row per fold, then Mean and Std."""
    summary = metrics[key]
    columns = list(summary)
    folds = len(summary[columns[0]]["folds"]) if columns else 0
    rows = {str(fold): [summary[name]["folds"][fold] for name in columns] for fold in range(folds)}
    rows["Mean"] = [summary[name]["mean"] for name in columns]
    rows["Std"] = [summary[name]["std"] for name in columns]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).rename_axis("Fold")


def format_summary(metrics: dict[str, Any], wall_time: float | None = None) -> str:
    """Human-readable summary: mode, rows, compare table, create and tune CV tables, features, wall time."""
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        parts = [
            f"mode: {metrics['mode']}  rows: {metrics['rows']}",
            "compare_models:",
            compare_frame(metrics).to_string(),
            f"create_model({metrics['params'].get('model_id', 'gbc')!r}) CV:",
            cv_frame(metrics, "create_cv").to_string(),
            f"tune_model(n_iter={metrics['params'].get('tune_iterations')}, optimize='F1') CV:",
            cv_frame(metrics, "tune_cv").to_string(),
            "selected features: " + ", ".join(metrics["selected_features"]),
        ]
    if wall_time is not None:
        parts.append(f"wall time: {wall_time:.0f} s ({wall_time / 60:.1f} min)")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary; exit 1 with one line if the file is missing or not a metrics document."""
    parser = argparse.ArgumentParser(prog="python -m diabetes_risk_model.training.summary", description=__doc__)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--wall-time", type=float, default=None, help="seconds the run took, printed last")
    args = parser.parse_args(argv)
    try:
        metrics = json.loads(args.metrics.read_text(encoding="utf-8"))
        print(format_summary(metrics, args.wall_time))
    except (OSError, ValueError, KeyError, TypeError, DataError) as exc:
        print(f"error: cannot summarise {args.metrics}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
