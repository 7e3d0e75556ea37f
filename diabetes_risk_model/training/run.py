"""The whole pipeline in order — data, profile, train, plots, metrics, pickle, package, upload — for the CLI.

The notebook calls the same step functions one by one (so it can narrate and display each result); this
module chains them for ``make train`` and keeps every intermediate file in ``<output>/artifacts/``:

    <output>/artifacts/data_report.html, plots/*.png, metrics.json, model.pkl, pycaret.log
    <output>/diabetes_risk_model-<version>-<YYYY_MM_DD>.zip
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from diabetes_risk_model.files import sha256_file
from diabetes_risk_model.training import data as data_step
from diabetes_risk_model.training import pipeline
from diabetes_risk_model.training.faithful import pickle_model
from diabetes_risk_model.training.metrics import METRICS_NAME, build_metrics, write_metrics
from diabetes_risk_model.training.package import MODEL_NAME
from diabetes_risk_model.training.params import TrainingParams
from diabetes_risk_model.training.profile import REPORT_NAME, profile_data

ARTIFACTS_DIR = "artifacts"
Reporter = Callable[[str], None]


@dataclass
class PreparedData:
    """Step 1-2 output: where the data came from, all rows renamed, and the rows actually trained on."""

    path: Path
    sha256: str
    full: pd.DataFrame
    training: pd.DataFrame


@dataclass
class TrainingResult:
    """Everything a training run produced (the package and upload are added by the CLI)."""

    params: TrainingParams
    artifacts_dir: Path
    setup: pipeline.StepResult
    compare: pipeline.StepResult
    create: pipeline.StepResult
    tune: pipeline.StepResult
    final_model: Any
    plots: dict[str, Path]
    metrics: dict[str, Any]
    model_pickle: Path
    timings: dict[str, float] = field(default_factory=dict)


def prepare_data(params: TrainingParams, data_path: str | Path | None = None) -> PreparedData:
    """Locate (or download), load, validate and rename the CSV, then sample it as *params* says."""
    path = data_step.locate_data(data_path)
    renamed = data_step.rename_columns(data_step.load_data(path))
    sample = data_step.stratified_sample(renamed, params.sample_rows, seed=params.session_id)
    return PreparedData(path, sha256_file(path), renamed, sample)


def train(
    params: TrainingParams,
    prepared: PreparedData,
    output_dir: Path,
    report: Reporter = print,
    profile: bool = True,
) -> TrainingResult:
    """Steps 3-6a: profile, setup, compare, create, tune, plots, finalize, metrics.json, model.pkl."""
    artifacts = Path(output_dir) / ARTIFACTS_DIR
    artifacts.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    frame = prepared.training

    if profile:
        started = time.perf_counter()
        report(f"profiling {len(frame)} rows with sweetviz -> {artifacts / REPORT_NAME}")
        profile_data(frame, artifacts / REPORT_NAME, pairwise=params.profile_pairwise)
        timings["profile"] = time.perf_counter() - started

    report(f"pycaret setup on {len(frame)} rows, {params.folds} folds")
    setup = pipeline.setup_experiment(frame, params, log_path=artifacts / "pycaret.log")
    experiment = setup.model
    timings["setup"] = setup.seconds
    report(pipeline.readable_table(setup.table).to_string())

    report("compare_models" + (f" (include={list(params.compare_include)})" if params.compare_include else ""))
    compared = pipeline.compare(experiment, params)
    timings["compare"] = compared.seconds
    report(compared.table.to_string())

    report(f"create_model({params.model_id!r})")
    created = pipeline.create(experiment, params)
    timings["create"] = created.seconds
    report(created.table.to_string())

    report(f"tune_model(n_iter={params.tune_iterations}, optimize={params.tune_optimize!r})")
    tuned = pipeline.tune(experiment, created.model, params)
    timings["tune"] = tuned.seconds
    report(tuned.table.to_string())

    started = time.perf_counter()
    plots = pipeline.save_plots(experiment, tuned.model, artifacts, params.plots)
    timings["plots"] = time.perf_counter() - started
    report("plots: " + ", ".join(sorted(plots)))

    final = pipeline.finalize(experiment, tuned.model)
    timings["finalize"] = final.seconds
    model_pickle = pickle_model(final.model, artifacts / MODEL_NAME)

    rows = {"loaded": len(prepared.full), "sampled": len(frame), **pipeline.row_counts(experiment)}
    metrics = build_metrics(
        mode=params.mode,
        params=params.to_dict(),
        compare_table=compared.table,
        create_table=created.table,
        tune_table=tuned.table,
        selected_features=pipeline.selected_features(experiment),
        rows=rows,
        model=pipeline.estimator_summary(final.model),
        timings=timings,
        data_sha256=prepared.sha256,
    )
    write_metrics(metrics, artifacts / METRICS_NAME)
    report(f"selected features: {', '.join(metrics['selected_features'])}")
    return TrainingResult(params, artifacts, setup, compared, created, tuned, final.model, plots, metrics,
                          model_pickle, timings)  # fmt: skip
