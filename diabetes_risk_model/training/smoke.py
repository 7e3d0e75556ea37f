"""A small real pipeline in seconds, for tests, benchmarks and smoke checks.

It runs the real training code (:func:`~.pipeline.setup_experiment`, the original design's setup flags) on a
class-stratified sample, creates ``gbc`` without cross-validation and finalizes it. The pickle it makes
holds the same classes as a full run's, which is what verification, the restricted unpickler and the
service need to be tested against; only its accuracy is lower.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from diabetes_risk_model.training.data import load_data, rename_columns, stratified_sample
from diabetes_risk_model.training.params import FAST
from diabetes_risk_model.training.pipeline import setup_experiment


def train_smoke_pipeline(csv_path: str | Path, rows: int = 2000, seed: int = 42) -> Any:
    """Train and finalize a ``gbc`` pipeline on *rows* stratified rows of the CSV at *csv_path*."""
    params = replace(FAST, sample_rows=rows, n_jobs=1, session_id=seed)
    frame = stratified_sample(rename_columns(load_data(csv_path)), rows, seed)
    experiment = setup_experiment(frame, params, log_path=None).model
    model = experiment.create_model(params.model_id, cross_validation=False, verbose=False)
    return experiment.finalize_model(model)
