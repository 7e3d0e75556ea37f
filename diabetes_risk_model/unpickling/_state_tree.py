"""Validate the state of scikit-learn's ``Tree`` and ``KDTree`` before their native ``__setstate__`` sees it.

``Tree.__setstate__`` copies the node array as given; prediction then follows ``left_child``/``right_child``
and reads ``X[:, feature]`` without bounds checks, so an out-of-range child reads outside the node array, a
child pointing back to an ancestor never terminates, and a feature beyond the input's width reads outside
the row. The rule admitted here is what sklearn's builders produce:

* ``node_count`` is an ``int`` equal to ``len(nodes)`` and at least 1; ``max_depth`` is in ``[0, node_count)``;
* ``nodes`` is a C-contiguous 1-D array of exactly sklearn's ``NODE_DTYPE``; ``values`` a C-contiguous
  ``float64`` array of shape ``(node_count, n_outputs, max_n_classes)``, finite;
* a leaf has ``left_child == right_child == -1`` (``TREE_LEAF``) and ``feature == -2`` (``TREE_UNDEFINED``);
* an internal node's children are in ``(own index, node_count)`` (sklearn numbers nodes depth-first, so this
  also excludes cycles), every node but the root is the child of exactly one node, ``0 <= feature <
  n_features``, and the threshold is finite;
* impurities and sample weights are finite, ``missing_go_to_left`` is 0 or 1.

``KDTree`` state (a 13-tuple) is checked so every index array stays inside the data it indexes.
"""

from __future__ import annotations

from typing import Any

from diabetes_risk_model.errors import UnsafeModelState

_TREE_KEYS = frozenset({"max_depth", "node_count", "nodes", "values"})
_KD_STATE_LEN = 13


def _require(condition: Any, path: str, rule: str) -> None:
    if not condition:
        raise UnsafeModelState(path, rule)


def _first(mask: Any) -> int:
    import numpy as np

    return int(np.flatnonzero(mask)[0])


def check_tree_state(tree: Any, state: Any, where: str) -> None:
    """Raise :class:`UnsafeModelState` unless *state* is a tree sklearn could have built for *tree*'s shape."""
    import numpy as np
    from sklearn.tree._tree import NODE_DTYPE

    _require(type(state) is dict and set(state) == _TREE_KEYS, where, "Tree state has exactly the keys sklearn writes")
    count, nodes, values = state["node_count"], state["nodes"], state["values"]
    _require(type(count) is int and count >= 1, where + ".node_count", "node_count is a positive int")
    _require(type(state["max_depth"]) is int and 0 <= state["max_depth"] < count, where + ".max_depth", "in range")
    _require(type(nodes) is np.ndarray and nodes.dtype == NODE_DTYPE, where + ".nodes", "dtype is sklearn's node dtype")
    _require(nodes.ndim == 1 and nodes.shape[0] == count, where + ".nodes", "node_count == len(nodes)")
    _require(nodes.flags.c_contiguous, where + ".nodes", "C-contiguous")
    shape = (count, tree.n_outputs, tree.max_n_classes)
    _require(type(values) is np.ndarray and values.dtype == np.float64, where + ".values", "float64")
    _require(values.shape == shape and values.flags.c_contiguous, where + ".values", f"shape {shape}, C-contiguous")
    _require(np.isfinite(values).all(), where + ".values", "finite")

    left, right, feature = nodes["left_child"], nodes["right_child"], nodes["feature"]
    index = np.arange(count)
    leaf = left == -1
    bad = leaf & ((right != -1) | (feature != -2))
    if bad.any():
        raise UnsafeModelState(f"{where}.nodes[{_first(bad)}]", "a leaf has both children -1 and feature -2")
    internal = ~leaf
    for name, child in (("left_child", left), ("right_child", right)):
        bad = internal & ((child <= index) | (child >= count))
        if bad.any():
            raise UnsafeModelState(f"{where}.nodes[{_first(bad)}].{name}", "child index in (own index, node_count)")
    bad = internal & ((feature < 0) | (feature >= tree.n_features))
    if bad.any():
        raise UnsafeModelState(f"{where}.nodes[{_first(bad)}].feature", f"0 <= feature < {tree.n_features}")
    bad = internal & ~np.isfinite(nodes["threshold"])
    if bad.any():
        raise UnsafeModelState(f"{where}.nodes[{_first(bad)}].threshold", "finite threshold")
    parents = np.bincount(np.concatenate([left[internal], right[internal]]), minlength=count)
    _require(parents[0] == 0 and (parents[1:] == 1).all(), where + ".nodes", "every node but the root has one parent")
    for name in ("impurity", "weighted_n_node_samples"):
        _require(np.isfinite(nodes[name]).all(), f"{where}.nodes.{name}", "finite")
    _require((nodes["n_node_samples"] >= 0).all(), where + ".nodes.n_node_samples", "non-negative")
    _require((nodes["missing_go_to_left"] <= 1).all(), where + ".nodes.missing_go_to_left", "0 or 1")


def check_kd_tree_state(state: Any, where: str) -> None:
    """Raise :class:`UnsafeModelState` unless *state* is a ``KDTree`` state whose index arrays stay in range."""
    import numpy as np

    _require(type(state) is tuple and len(state) == _KD_STATE_LEN, where, "KDTree state is sklearn's 13-tuple")
    data, idx, node_data, bounds = state[:4]
    leaf_size, n_levels, n_nodes = state[4:7]
    _require(type(data) is np.ndarray and data.dtype == np.float64 and data.ndim == 2, where + ".data", "2-D float64")
    n_samples, n_features = data.shape
    _require(np.isfinite(data).all(), where + ".data", "finite")
    _require(all(type(n) is int for n in state[4:11]), where, "counts are ints")
    _require(leaf_size >= 1 and 1 <= n_levels <= 64 and n_nodes == 2**n_levels - 1, where + ".n_nodes", "2**n_levels-1")
    _require(type(idx) is np.ndarray and idx.dtype == np.intp and idx.shape == (n_samples,), where + ".idx_array", "")
    ok = np.array_equal(np.sort(idx), np.arange(n_samples))
    _require(ok, where + ".idx_array", "a permutation of the sample indices")
    fields = {"idx_start": np.intp, "idx_end": np.intp, "is_leaf": np.intp, "radius": np.float64}
    _require(type(node_data) is np.ndarray and node_data.shape == (n_nodes,), where + ".node_data", "n_nodes long")
    _require(node_data.dtype.names == tuple(fields), where + ".node_data", "sklearn's NodeData dtype")
    _require(all(node_data.dtype[name] == kind for name, kind in fields.items()), where + ".node_data", "field types")
    start, end = node_data["idx_start"], node_data["idx_end"]
    ok = ((start >= 0) & (start <= end) & (end <= n_samples)).all()
    _require(ok, where + ".node_data", "0 <= idx_start <= idx_end <= n_samples")
    _require(type(bounds) is np.ndarray and bounds.dtype == np.float64, where + ".node_bounds", "float64")
    _require(bounds.shape == (2, n_nodes, n_features), where + ".node_bounds", "shape (2, n_nodes, n_features)")
