"""A signed pipeline whose sklearn ``Tree`` state would make native prediction read out of bounds or never end
is refused before ``Tree.__setstate__`` runs, naming the tree, the field and the rule; without the check
(control, in a child) the same bytes crash or hang the process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from diabetes_risk_model.errors import UnsafeModelState, VerificationError
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.child import UNCHECKED_PREDICT, run_child
from tests.support.forge import with_tree_state

Mutation = Callable[[dict[str, Any]], None]


def _set(field: str, index: int, value: Any) -> Mutation:
    def mutate(state: dict[str, Any]) -> None:
        state["nodes"][field][index] = value

    return mutate


def _cycle(state: dict[str, Any]) -> None:
    state["nodes"]["left_child"][1] = 0  # node 1 sends its left branch back to the root


def _leaf_with_feature(state: dict[str, Any]) -> None:
    leaf = int(np.flatnonzero(state["nodes"]["left_child"] == -1)[0])
    state["nodes"]["feature"][leaf] = 3


def _short_nodes(state: dict[str, Any]) -> None:
    state["nodes"] = state["nodes"][:-1].copy()


def _wrong_values(state: dict[str, Any]) -> None:
    state["values"] = np.zeros((state["node_count"], 1, 7))


def _wrong_node_dtype(state: dict[str, Any]) -> None:
    old = state["nodes"]  # the same fields, packed, with a float32 threshold: every offset after it moves
    names = old.dtype.names
    new = np.zeros(len(old), dtype=[(n, "<f4" if n == "threshold" else old.dtype[n].str) for n in names])
    for name in names:
        new[name] = old[name]
    state["nodes"] = new


def _shared_child(state: dict[str, Any]) -> None:
    nodes = state["nodes"]
    internal = np.flatnonzero(nodes["left_child"] != -1)
    nodes["right_child"][internal[0]] = nodes["left_child"][internal[0]]


ATTACKS: dict[str, tuple[Mutation, str, str]] = {
    "child-out-of-range": (_set("left_child", 0, 2**40), ".nodes[0].left_child", "child index in"),
    "cycle": (_cycle, ".nodes[1].left_child", "own index"),
    "feature-out-of-range": (_set("feature", 0, 10**9), ".nodes[0].feature", "0 <= feature < 4"),
    "negative-feature": (_set("feature", 0, -5), ".nodes[0].feature", "0 <= feature"),
    "nan-threshold": (_set("threshold", 0, np.nan), ".nodes[0].threshold", "finite"),
    "leaf-with-feature": (_leaf_with_feature, ".nodes[", "a leaf"),
    "node-count": (_short_nodes, ".nodes", "node_count == len(nodes)"),
    "values-shape": (_wrong_values, ".values", "shape"),
    "node-dtype": (_wrong_node_dtype, ".nodes", "node dtype"),
    "two-parents": (_shared_child, ".nodes", "one parent"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("protocol", [2, 5])
def test_signed_tree_state_is_refused_with_path_and_rule(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str, protocol: int
) -> None:
    mutate, path, rule = ATTACKS[attack]
    data = signed(with_tree_state(smoke_pipeline, mutate, protocol))
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(data)
    assert isinstance(info.value, VerificationError)
    assert info.value.path.startswith("Tree#") and path in info.value.path, info.value.path
    assert rule in info.value.rule, info.value.rule


@pytest.mark.parametrize(("attack", "harm"), [("child-out-of-range", "SIGSEGV"), ("cycle", "timeout")])
def test_control_without_our_check_the_tree_crashes_or_hangs_prediction(
    smoke_pipeline: Any, rows_file: Path, tmp_path: Path, attack: str, harm: str
) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(with_tree_state(smoke_pipeline, ATTACKS[attack][0]))
    result = run_child(UNCHECKED_PREDICT, str(model), str(rows_file), timeout=20)
    assert result.describe() == harm, result.stderr[-400:]
    assert "Fatal Python error" in result.stderr or result.timed_out  # faulthandler reported the crash


def test_the_real_trees_pass_and_predict_identically(smoke_pipeline: Any, signed: Callable[[bytes], bytes]) -> None:
    untouched = signed(with_tree_state(smoke_pipeline, lambda state: None))
    loaded = restricted_loads(untouched)
    first = loaded.steps[-1][1].estimators_[0, 0].tree_
    original = smoke_pipeline.steps[-1][1].estimators_[0, 0].tree_
    np.testing.assert_array_equal(first.value, original.value)
