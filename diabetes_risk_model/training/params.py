"""Training parameters: one frozen dataclass, two presets (FULL reproduces the original design, FAST is for CI).

Why a dataclass and not papermill/argparse values scattered around: the notebook, the CLI and the tests all
build the same :class:`TrainingParams`, so "fast mode" means exactly one thing everywhere, and the values a
run used are written into ``metrics.json`` next to the results they produced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from diabetes_risk_model.errors import ConfigurationError

TARGET = "Diabetes"
PLOTS: tuple[str, ...] = ("auc", "confusion_matrix", "class_report", "error", "feature", "learning")


@dataclass(frozen=True)
class TrainingParams:
    """Everything that decides what a training run computes (not where it reads or writes)."""

    mode: str = "full"
    sample_rows: int | None = None  # None: every row; else a stratified sample of this many rows
    folds: int = 10
    compare_include: tuple[str, ...] | None = None  # None: pycaret's default model list
    model_id: str = "gbc"
    tune_iterations: int = 10
    tune_optimize: str = "F1"
    n_jobs: int | None = None  # None: pycaret's default (-1, every core)
    session_id: int = 42
    profile_pairwise: bool = False  # sweetviz pairwise analysis is O(columns^2) and adds nothing the plots lack
    plots: tuple[str, ...] = field(default=PLOTS)

    def __post_init__(self) -> None:
        if self.sample_rows is not None and self.sample_rows < 100:
            raise ConfigurationError("sample_rows must be at least 100 (or None for every row)", setting="sample_rows")
        if self.folds < 2:
            raise ConfigurationError("folds must be at least 2", setting="folds")
        if self.tune_iterations < 1:
            raise ConfigurationError("tune_iterations must be at least 1", setting="tune_iterations")
        unknown = sorted(set(self.plots) - set(PLOTS))
        if unknown:
            raise ConfigurationError("unknown plots: " + ", ".join(unknown), setting="plots")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (tuples become lists) for metrics.json."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data


FULL = TrainingParams()
"""The original design's parameters: all rows, 10 folds, every default model, 10 tuning iterations."""

FAST = TrainingParams(
    mode="fast",
    sample_rows=None,
    folds=2,
    compare_include=("lr", "dt", "gbc"),
    tune_iterations=2,
    n_jobs=1,
)
"""CI and ``make run`` parameters: every row (as the full run), 2 folds, three models, 2 tuning iterations, one process.

Fast mode trains on all 70,692 rows on purpose: feature selection keeps 20% of the 21 features, and only with
enough rows does it keep the same four as the full run and the API's inputs (BMI, GeneralHealth, Age, Income).
On a 3,000- or 10,000-row sample it kept PhysicalHealth instead of GeneralHealth, so the served model ignored
``general_health``. What makes the mode fast is fewer folds, models and tuning iterations. With four features
each fold fits in seconds, while starting pycaret's parallel workers (each re-imports pycaret) costs seconds per
call: one process is faster here."""


def params_for(mode: str, **overrides: Any) -> TrainingParams:
    """The preset named *mode* ("full" or "fast") with *overrides* (None values are ignored)."""
    presets = {"full": FULL, "fast": FAST}
    if mode not in presets:
        raise ConfigurationError(f"unknown training mode {mode!r}; expected 'full' or 'fast'", setting="mode")
    changes = {key: value for key, value in overrides.items() if value is not None}
    if "compare_include" in changes and changes["compare_include"] is not None:
        changes["compare_include"] = tuple(changes["compare_include"])
    return replace(presets[mode], **changes)
