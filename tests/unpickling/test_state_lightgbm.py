"""A signed pipeline whose LightGBM model string would make LightGBM's parser or its feature importances read
or write out of bounds is refused before ``Booster.__setstate__`` hands it to LightGBM, naming the tree, the
field and the rule; without the check (control, in a child) the same bytes abort or crash the process."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from diabetes_risk_model.errors import UnsafeModelState
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.child import UNCHECKED_PREDICT, run_child
from tests.support.forge import rewrite_tree, with_model_string

Mutation = Callable[[str], str]


def _first(key: str, value: str, tree: int = 0) -> Mutation:
    return lambda model: rewrite_tree(model, tree, key, lambda values: [value, *values[1:]])


def _at(key: str, position: int, value: str) -> Mutation:
    return lambda model: rewrite_tree(model, 0, key, lambda v: [*v[:position], value, *v[position + 1 :]])


def _tree_sizes(model: str) -> str:
    return re.sub(r"tree_sizes=(\d+)", lambda m: f"tree_sizes={int(m.group(1)) + 7}", model, count=1)


def _categorical_without_categories(model: str) -> str:
    return _first("decision_type", "1")(model)


def _categories_out_of_range(model: str) -> str:
    model = _first("decision_type", "1")(_first("num_cat", "1")(model))
    return rewrite_tree(model, 0, "is_linear", lambda values: ["0\ncat_boundaries=0 9\ncat_threshold=1"])


def _renamed_feature(model: str) -> str:
    return re.sub(r"feature_names=(\w+)", "feature_names=Renamed", model, count=1)


ATTACKS: dict[str, tuple[Mutation, str, str]] = {
    "split-feature-out-of-range": (_first("split_feature", "100000"), "Tree[0].split_feature", "each in [0, 20]"),
    "left-child-out-of-range": (_first("left_child", "100000"), "Tree[0].left_child", "each in"),
    "leaf-out-of-range": (_first("right_child", "-100"), "Tree[0].right_child", "each in"),
    "cycle": (_at("left_child", 1, "0"), "Tree[0].node[1]", "larger index"),
    "num-leaves": (_first("num_leaves", "40"), "Tree[0]", "values"),
    "tree-sizes": (_tree_sizes, "Tree[", ""),
    "linear-tree": (_first("is_linear", "1"), "Tree[0].is_linear", "no linear trees"),
    "categorical-without-categories": (_categorical_without_categories, "Tree[0].num_cat", "categorical"),
    "cat-boundaries": (_categories_out_of_range, "Tree[0].cat_boundaries", "len(cat_threshold)"),
    "renamed-feature": (_renamed_feature, "._Booster", "the features it was fitted on"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_signed_model_string_is_refused_with_path_and_rule(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str
) -> None:
    mutate, path, rule = ATTACKS[attack]
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(signed(with_model_string(smoke_pipeline, mutate)))
    assert path in info.value.path, info.value.path
    assert rule in info.value.rule, info.value.rule


CONTROLS: dict[str, Mutation] = {
    "tree-sizes": _tree_sizes,
    # feature importances (computed by SelectFromModel.transform) add into importance[split_feature]: 8 GB away
    "split-feature-far-out-of-range": _first("split_feature", "1000000000"),
}


@pytest.mark.parametrize("attack", sorted(CONTROLS))
def test_control_without_our_check_lightgbm_aborts_or_crashes(
    smoke_pipeline: Any, rows_file: Path, tmp_path: Path, signed: Callable[[bytes], bytes], attack: str
) -> None:
    data = with_model_string(smoke_pipeline, CONTROLS[attack])
    with pytest.raises(UnsafeModelState):
        restricted_loads(signed(data))
    model = tmp_path / "model.pkl"
    model.write_bytes(data)
    result = run_child(UNCHECKED_PREDICT, str(model), str(rows_file), timeout=30)
    assert result.signal in {"SIGABRT", "SIGSEGV", "SIGBUS"}, result.describe() + result.stderr[-300:]


def test_the_real_model_string_passes(smoke_pipeline: Any, signed: Callable[[bytes], bytes]) -> None:
    loaded = restricted_loads(signed(with_model_string(smoke_pipeline, lambda model: model)))
    booster = loaded.steps[-2][1].transformer.estimator_._Booster
    original = smoke_pipeline.steps[-2][1].transformer.estimator_._Booster
    assert booster.model_to_string() == original.model_to_string()
