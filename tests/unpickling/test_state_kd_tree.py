"""A signed pipeline whose ``KDTree`` index arrays point outside the data they index is refused before
``KDTree.__setstate__`` runs, naming the tree, the field and the rule (without the check, the loading sandbox's
test shows the same bytes crash native code); the untouched tree loads and predicts as before."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from diabetes_risk_model.errors import UnsafeModelState
from diabetes_risk_model.prediction.table import all_keys, frame_for
from diabetes_risk_model.unpickling import restricted_loads
from tests.support.forge import with_kd_tree_state

IDX, NODE_DATA, N_NODES = 1, 2, 6  # positions in sklearn's 13-tuple KDTree state


def _index_far_out(state: list[Any]) -> None:
    state[IDX][0] = 2**40


def _index_twice(state: list[Any]) -> None:
    state[IDX][0] = state[IDX][1]


def _node_past_the_end(state: list[Any]) -> None:
    state[NODE_DATA]["idx_end"][0] = 10**9


def _node_count(state: list[Any]) -> None:
    state[N_NODES] += 1


ATTACKS: dict[str, tuple[Callable[[list[Any]], None], str, str]] = {
    "index-out-of-range": (_index_far_out, ".idx_array", "permutation"),
    "index-twice": (_index_twice, ".idx_array", "permutation"),
    "node-past-the-end": (_node_past_the_end, ".node_data", "idx_end <= n_samples"),
    "node-count": (_node_count, ".n_nodes", "2**n_levels-1"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_signed_kd_tree_state_is_refused_with_path_and_rule(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes], attack: str
) -> None:
    mutate, path, rule = ATTACKS[attack]
    with pytest.raises(UnsafeModelState) as info:
        restricted_loads(signed(with_kd_tree_state(smoke_pipeline, mutate)))
    assert info.value.path.startswith("KDTree#") and path in info.value.path, info.value.path
    assert rule in info.value.rule, info.value.rule


def test_the_untouched_kd_tree_loads_and_predicts_as_pickle_does(
    smoke_pipeline: Any, signed: Callable[[bytes], bytes]
) -> None:
    data = with_kd_tree_state(smoke_pipeline, lambda state: None)
    ours, theirs = restricted_loads(signed(data)), pickle.loads(data)
    frame = frame_for(list(itertools.islice(all_keys(), 0, None, 71)))  # 500 inputs across the space
    np.testing.assert_array_equal(ours.predict(frame), theirs.predict(frame))
