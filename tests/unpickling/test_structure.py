"""A small signed file that references one estimator, tree or array many times (through the pickle memo) is
refused, as are streams and graphs over the measured caps; the real pipeline loads under all of them."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from diabetes_risk_model.errors import PickleLimitExceeded, UnsafeModelState, UnsafeObjectGraph
from diabetes_risk_model.unpickling import PickleLimits, restricted_loads


def _aliased_stages(pipeline: Any) -> Any:
    """Every boosting stage is the same (memoized) tree estimator: one tree's bytes, n_estimators walks."""
    clone = copy.deepcopy(pipeline)
    stages = clone.steps[-1][1].estimators_
    stages[:, 0] = [stages[0, 0]] * stages.shape[0]
    return clone


def _aliased_scaler_array(pipeline: Any) -> Any:
    clone = copy.deepcopy(pipeline)
    scaler = clone.steps[4][1].transformer
    scaler.scale_ = scaler.mean_
    return clone


@pytest.mark.parametrize(
    ("build", "where"),
    [(_aliased_stages, "model.steps[6][1].estimators_[]"), (_aliased_scaler_array, "model.steps[4][1].transformer")],
    ids=["estimator", "array"],
)
def test_signed_pipeline_referencing_one_object_twice_is_refused(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], build: Callable[[Any], Any], where: str
) -> None:
    data = signed(pickle.dumps(build(smoke_pipeline), protocol=5))
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(data)
    assert info.value.path.startswith(where) and "referenced once" in info.value.rule, info.value.path


@pytest.mark.parametrize(
    ("limits", "error", "match"),
    [
        (PickleLimits(max_reduces=500), PickleLimitExceeded, "reduce"),
        (PickleLimits(max_newobjs=100), PickleLimitExceeded, "newobj"),
        (PickleLimits(max_estimators=50), UnsafeModelState, "estimators"),
        (PickleLimits(max_tree_nodes=5_000), UnsafeModelState, "nodes"),
        (PickleLimits(max_graph_objects=500), UnsafeObjectGraph, "objects"),
    ],
    ids=["reduces", "newobjs", "estimators", "tree-nodes", "graph-objects"],
)
def test_the_real_pipeline_over_a_tightened_cap_is_refused(
    smoke_pipeline: Any, limits: PickleLimits, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        restricted_loads(pickle.dumps(smoke_pipeline, protocol=5), limits=limits)


def test_a_wide_dict_with_long_keys_is_refused_at_the_visit_cap_naming_a_short_path() -> None:
    wide = {("k" * 2000) + str(i): i for i in range(2000)}
    with pytest.raises(UnsafeObjectGraph) as info:
        restricted_loads(pickle.dumps(wide, protocol=4), limits=PickleLimits(max_graph_objects=1000))
    assert len(info.value.context["path"]) < 200


def test_real_pipeline_loads_under_the_default_caps(smoke_pipeline: Any) -> None:
    loaded = restricted_loads(pickle.dumps(smoke_pipeline, protocol=5))
    rows = np.zeros((1, len(loaded._feature_names_in) - 1))
    import pandas as pd

    frame = pd.DataFrame(rows, columns=loaded._feature_names_in[:-1])
    np.testing.assert_array_equal(loaded.predict_proba(frame), smoke_pipeline.predict_proba(frame))
