"""The allow-list is exact: re-derived from a fresh training, every pair a real pipeline needs is listed with
the role it is used in, and the lists hold nothing a real pipeline does not need.

Fast mode: the session's smoke pipeline (``training.smoke``: FAST settings, finalized gbc). Full mode: the FULL
settings' setup on a small stratified sample, then every model family ``compare_models`` can pick in this
setup (its turbo list), created without cross-validation (the preprocessing around them is the pipeline's),
and one finalized pipeline. Each is pickled with protocols 0-5 and loaded by a recording unpickler.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from diabetes_risk_model.unpickling import restricted_loads
from diabetes_risk_model.unpickling._calls import CHECKS
from diabetes_risk_model.unpickling._policy import ALLOWED_NAMES, CALLABLES, REBUILT_CLASSES, VALUES

FAMILIES = ("lr", "knn", "nb", "dt", "svm", "ridge", "rf", "qda", "ada", "gbc", "lda", "et", "lightgbm", "dummy")
_Pure: Any = getattr(pickle, "_Unpickler")  # noqa: B009


class _Recorder(_Pure):  # type: ignore[misc]
    """Plain pure-Python unpickler that records every import, __new__ and call (only trusted pickles here)."""

    dispatch: ClassVar[dict[int, Any]] = dict(_Pure.dispatch)

    def __init__(self, data: bytes, seen: dict[str, set[tuple[str, str]]]) -> None:
        super().__init__(io.BytesIO(data))
        self.seen = seen
        self.names: dict[int, tuple[str, str]] = {}

    def find_class(self, module: str, name: str) -> Any:
        obj = super().find_class(module, name)
        import _compat_pickle

        pair = _compat_pickle.NAME_MAPPING.get(
            (module, name), (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
        )
        self.seen["import"].add(pair)
        self.names[id(obj)] = pair
        return obj

    def load_reduce(self) -> None:
        self.seen["call"].add(self.names[id(self.stack[-2])])
        _Pure.load_reduce(self)

    def load_newobj(self) -> None:
        self.seen["new"].add(self.names[id(self.stack[-2])])
        _Pure.load_newobj(self)


_Recorder.dispatch[pickle.REDUCE[0]] = _Recorder.load_reduce
_Recorder.dispatch[pickle.NEWOBJ[0]] = _Recorder.load_newobj


@pytest.fixture(scope="module")
def full_mode_models(diabetes_csv: Path) -> dict[str, Any]:
    """FULL setup (400 rows, one process); every turbo family created without CV; one finalized pipeline."""
    from diabetes_risk_model.training.data import load_data, rename_columns, stratified_sample
    from diabetes_risk_model.training.params import FULL
    from diabetes_risk_model.training.pipeline import setup_experiment

    params = replace(FULL, sample_rows=400, folds=2, n_jobs=1)  # worker processes change values, not classes
    frame = stratified_sample(rename_columns(load_data(diabetes_csv)), 400, 7)
    experiment = setup_experiment(frame, params, log_path=None).model
    turbo = experiment.models()
    assert set(turbo[turbo["Turbo"]].index) == set(FAMILIES), "compare_models' candidates changed: re-derive"
    models = {family: experiment.create_model(family, cross_validation=False, verbose=False) for family in FAMILIES}
    models["pipeline"] = experiment.finalize_model(models["lr"])
    models["_rows"] = experiment.get_config("X_train_transformed").head(25)
    return models


def _record(objects: list[Any], protocols: tuple[int, ...]) -> dict[str, set[tuple[str, str]]]:
    seen: dict[str, set[tuple[str, str]]] = {"import": set(), "call": set(), "new": set()}
    for obj in objects:
        for protocol in protocols:
            _Recorder(pickle.dumps(obj, protocol=protocol), seen).load()
    return seen


def test_every_pair_a_fresh_training_uses_is_listed_in_its_role(smoke_pipeline: Any, full_mode_models: dict) -> None:
    pipelines = [smoke_pipeline, full_mode_models["pipeline"]]
    estimators = [full_mode_models[family] for family in FAMILIES]
    seen = _record(pipelines, (0, 1, 2, 3, 4, 5))
    more = _record(estimators, (2, 4, 5))
    for kind in seen:
        seen[kind] |= more[kind]
    assert seen["import"] - ALLOWED_NAMES == set(), "pairs a real pipeline needs are missing from the allow-list"
    assert seen["new"] - REBUILT_CLASSES == set()
    assert seen["call"] - set(CALLABLES) == set()
    assert seen["import"] == ALLOWED_NAMES, "pairs no real pipeline needs are listed"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_and_predicts_identically(family: str, full_mode_models: dict) -> None:
    model, rows = full_mode_models[family], full_mode_models["_rows"]
    loaded = restricted_loads(pickle.dumps(model, protocol=5))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))


def test_each_pair_has_exactly_one_role_and_each_call_a_check_and_a_reason() -> None:
    roles = [REBUILT_CLASSES, set(CALLABLES), set(VALUES)]
    assert sum(len(r) for r in roles) == len(ALLOWED_NAMES)
    assert set(CHECKS) == set(CALLABLES)
    for reason in [*CALLABLES.values(), *VALUES.values()]:
        assert reason.startswith(("class;", "function;")) or "(" in reason or len(reason) > 20
    assert len(ALLOWED_NAMES) == 56
