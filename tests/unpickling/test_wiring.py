"""A signed pipeline wired differently from what training produces (reversed labels, a step of a foreign
class, a selector whose fitted estimator is not its configured one, unknown or duplicate columns, feature
names that are not strings, an ensemble of the wrong length, an estimator without one of its parameters) is
refused, naming the path and the rule."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier

from diabetes_risk_model.errors import UnsafeModelState
from diabetes_risk_model.unpickling import restricted_loads


def _estimator(pipeline: Any) -> Any:
    return pipeline.steps[-1][1]


def _reverse_classes(p: Any) -> None:
    _estimator(p).classes_ = _estimator(p).classes_[::-1].copy()


def _duplicate_classes(p: Any) -> None:
    _estimator(p).classes_ = np.array([0, 0], dtype=np.int8)


def _foreign_step(p: Any) -> None:
    p.steps[4][1].transformer = copy.deepcopy(p.steps[0][1].transformer)  # an allowed class, in the wrong step


def _swapped_steps(p: Any) -> None:
    p.steps[3], p.steps[4] = p.steps[4], p.steps[3]


def _selector_estimator_class(p: Any) -> None:
    p.steps[5][1].transformer.estimator_ = DummyClassifier().fit([[0]], [0])


def _unknown_column(p: Any) -> None:
    p.steps[0][1]._include = [*p.steps[0][1]._include, "Password"]


def _duplicate_column(p: Any) -> None:
    p.steps[0][1]._include = [p.steps[0][1]._include[0]] * 2


def _feature_names_not_strings(p: Any) -> None:
    _estimator(p).feature_names_in_ = np.array([1, 2, 3, 4], dtype=object)


def _short_ensemble(p: Any) -> None:
    _estimator(p).estimators_ = _estimator(p).estimators_[:-1].copy()


def _final_step_family(p: Any) -> None:
    p.steps[-1] = ("actual_estimator", copy.deepcopy(p.steps[3][1].transformer._estimator))


def _member_without_parameter(p: Any) -> None:
    del _estimator(p).estimators_[0, 0].__dict__["monotonic_cst"]  # prediction would fail with AttributeError


ATTACKS: dict[str, tuple[Callable[[Any], None], str, str]] = {
    "reversed-classes": (_reverse_classes, "model.steps[6][1].classes_", "sorted, unique"),
    "duplicate-classes": (_duplicate_classes, "model.steps[6][1].classes_", "sorted, unique"),
    "foreign-step-class": (_foreign_step, "model.steps[4].transformer", "StandardScaler"),
    "swapped-steps": (_swapped_steps, "model.steps[3]", "remove_outliers"),
    "selector-estimator-class": (_selector_estimator_class, "model.steps[5].transformer.estimator_", "configured"),
    "unknown-column": (_unknown_column, "model.steps[0]._include", "columns of the training data"),
    "duplicate-column": (_duplicate_column, "model.steps[0]._include", "unique"),
    "feature-names-not-strings": (_feature_names_not_strings, "model.steps[6][1].feature_names_in_", "strings"),
    "short-ensemble": (_short_ensemble, "model.steps[6][1].estimators_", "shape"),
    "foreign-final-family": (_final_step_family, "model.steps[6]", "estimator family"),
    "member-without-parameter": (_member_without_parameter, "model.steps[6][1].estimators_[]", "monotonic_cst"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_signed_pipeline_with_foreign_wiring_is_refused(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str
) -> None:
    change, path, rule = ATTACKS[attack]
    clone = copy.deepcopy(smoke_pipeline)
    change(clone)
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(signed(pickle.dumps(clone, protocol=5)))
    assert info.value.path == path and rule in info.value.rule, (info.value.path, info.value.rule)


def test_the_real_wiring_passes(smoke_pipeline: Any, signed: Callable[[bytes], bytes]) -> None:
    loaded = restricted_loads(signed(pickle.dumps(smoke_pipeline, protocol=5)))
    assert [name for name, _ in loaded.steps] == [name for name, _ in smoke_pipeline.steps]
