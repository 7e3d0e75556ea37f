"""Step 4: the pycaret classification experiment, one function per step of the original notebook.

Each function returns what the step produced *and* the table pycaret printed for it (``pull()``), so the
notebook can display exactly pycaret's tables while the CLI and ``metrics.json`` keep the same numbers.

An explicit :class:`pycaret.classification.ClassificationExperiment` is used instead of pycaret's functional
API: the functional API keeps one experiment in a module global, which would make two runs in one process
(tests, a notebook re-run) share state. The calls and their arguments are the original design's.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from diabetes_risk_model.errors import TrainingError
from diabetes_risk_model.training.params import TARGET, TrainingParams

PLOT_FILES: dict[str, str] = {
    "auc": "plots/auc.png",
    "confusion_matrix": "plots/confusion_matrix.png",
    "class_report": "plots/class_report.png",
    "error": "plots/prediction_error.png",
    "feature": "plots/feature_importance.png",
    "learning": "plots/learning_curve.png",
}
"""pycaret plot id -> package member name (pycaret's own file names contain spaces: 'Confusion Matrix.png')."""


@dataclass
class StepResult:
    """One pycaret step: the estimator it returned, the table pull() gave right after, and its wall time."""

    model: Any
    table: pd.DataFrame
    seconds: float


def setup_experiment(data: pd.DataFrame, params: TrainingParams, log_path: Path | None = None) -> StepResult:
    """``setup(...)`` with the original design's arguments; ``model`` is the experiment itself.

    pycaret writes its own log to ``logs.log`` in the working directory unless told otherwise; *log_path*
    sends it next to the run's outputs instead (``None``: no pycaret log at all).
    """
    from lightgbm import LGBMClassifier
    from pycaret.classification import ClassificationExperiment

    if TARGET not in data.columns:
        raise TrainingError(f"target column {TARGET!r} is missing (did you rename the columns?)")
    started = time.perf_counter()
    experiment = ClassificationExperiment()
    # pycaret's feature_selection_estimator="lightgbm" builds LGBMClassifier() with every core; inside
    # pycaret's parallel folds that oversubscribes OpenMP and each fit takes seconds instead of milliseconds
    # (100x slower measured on 2 busy cores). The same estimator pinned to one thread selects the same way.
    selector = LGBMClassifier(n_jobs=1, verbose=-1)
    experiment.setup(
        data,
        target=TARGET,
        data_split_stratify=True,
        fix_imbalance=False,
        remove_outliers=True,
        normalize=True,
        feature_selection=True,
        feature_selection_estimator=selector,
        remove_multicollinearity=True,
        session_id=params.session_id,
        fold=params.folds,
        n_jobs=params.n_jobs if params.n_jobs is not None else -1,
        html=False,
        verbose=False,
        system_log=str(log_path) if log_path is not None else False,
    )
    return StepResult(experiment, experiment.pull(), time.perf_counter() - started)


def readable_table(table: pd.DataFrame, max_width: int = 60) -> pd.DataFrame:
    """A copy of a pycaret table whose text cells are one line of at most *max_width* characters.

    pycaret's setup table holds the feature-selection estimator's multi-line ``repr``, which makes the whole
    table hundreds of characters wide when printed; collapsed and shortened, it fits a terminal or a CI log.
    """

    def shorten(value: Any) -> Any:
        if isinstance(value, (bool, int, float)) or value is None:
            return value
        text = " ".join(str(value).split())
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    return table.apply(lambda column: column.map(shorten))


def compare(experiment: Any, params: TrainingParams) -> StepResult:
    """``compare_models()`` (restricted to ``params.compare_include`` in fast mode); ``model`` is the best one."""
    started = time.perf_counter()
    include = list(params.compare_include) if params.compare_include is not None else None
    best = experiment.compare_models(include=include, verbose=False)
    table = experiment.pull()
    if best is None or (isinstance(best, list) and not best) or table.empty:
        raise TrainingError("compare_models trained no model successfully")
    return StepResult(best, table, time.perf_counter() - started)


def create(experiment: Any, params: TrainingParams) -> StepResult:
    """``create_model(params.model_id)``: cross-validated, then fitted on the whole training split."""
    started = time.perf_counter()
    model = experiment.create_model(params.model_id, verbose=False)
    return StepResult(model, experiment.pull(), time.perf_counter() - started)


def tune(experiment: Any, model: Any, params: TrainingParams) -> StepResult:
    """``tune_model(model, n_iter=..., optimize="F1")`` (pycaret keeps the untuned model if it scores better)."""
    started = time.perf_counter()
    tuned = experiment.tune_model(model, n_iter=params.tune_iterations, optimize=params.tune_optimize, verbose=False)
    return StepResult(tuned, experiment.pull(), time.perf_counter() - started)


def save_plots(experiment: Any, model: Any, output_dir: Path, plots: tuple[str, ...]) -> dict[str, Path]:
    """``plot_model(model, plot=..., save=...)`` for each plot; returns member name -> PNG path under *output_dir*.

    pycaret names files after the plot's title; each is rendered into a private temporary directory (never
    the working directory) and moved to its clean name from :data:`PLOT_FILES`.
    """
    import matplotlib.pyplot as plt

    written: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="drm-plots-") as scratch:
        for plot in plots:
            before = set(Path(scratch).iterdir())
            result = experiment.plot_model(model, plot=plot, save=scratch, verbose=False)
            plt.close("all")
            created = [path for path in Path(scratch).iterdir() if path not in before and path.suffix == ".png"]
            if len(created) != 1:
                raise TrainingError(f"plot_model({plot!r}) wrote {len(created)} PNG files, expected 1 ({result})")
            member = PLOT_FILES[plot]
            target = output_dir / member
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(created[0]), target)
            written[member] = target
    return written


def finalize(experiment: Any, model: Any) -> StepResult:
    """``finalize_model(model)``: refit the whole preprocessing + model pipeline on train and test together."""
    started = time.perf_counter()
    final = experiment.finalize_model(model)
    return StepResult(final, pd.DataFrame(), time.perf_counter() - started)


def selected_features(experiment: Any) -> list[str]:
    """The features that survive multicollinearity removal and feature selection, in pipeline order."""
    return [str(name) for name in experiment.get_config("X_train_transformed").columns]


def row_counts(experiment: Any) -> dict[str, int]:
    """Rows seen by setup, in each split, and in the training split after outlier removal."""
    return {
        "setup": len(experiment.get_config("dataset")),
        "train": len(experiment.get_config("X_train")),
        "test": len(experiment.get_config("X_test")),
        "train_after_outlier_removal": len(experiment.get_config("X_train_transformed")),
    }


def estimator_summary(model: Any) -> dict[str, Any]:
    """Class name and hyper-parameters of the last step of a pipeline (or of a bare estimator), JSON-ready."""
    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    safe = {key: value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)
            for key, value in sorted(params.items())}  # fmt: skip
    return {"class": f"{type(estimator).__module__}.{type(estimator).__qualname__}", "params": safe}
