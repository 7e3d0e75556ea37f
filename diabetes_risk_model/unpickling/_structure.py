"""Structure of a loaded model: each object once where training puts it once, and sizes under the caps.

A pickle's memo lets a small file reference one estimator, tree or array thousands of times (an ensemble of
10,000 copies of one deep tree costs 10,000 tree walks per prediction and per answer-table row). Training
never does that, so over the :class:`~._graph.Inventory` of the walk:

* every array, ``Tree``, ``Booster`` and estimator is reached through one reference only (except the
  measured edges of :data:`~._graph.ALIAS_EDGES`; a shared ``RandomState`` is allowed);
* every array satisfies ``itemsize * size == nbytes``, and together they stay under ``max_array_bytes``;
* estimators number at most ``max_estimators``, tree nodes at most ``max_tree_nodes`` in total.

Refusals are :class:`~diabetes_risk_model.errors.UnsafeModelState` with the path of the object.
"""

from __future__ import annotations

from diabetes_risk_model.errors import UnsafeModelState
from diabetes_risk_model.unpickling._graph import Inventory
from diabetes_risk_model.unpickling._policy import PickleLimits
from diabetes_risk_model.unpickling._state_numpy import check_array_sizes

_NOT_ESTIMATORS = frozenset(
    {
        "joblib.memory",
        "sklearn._loss.link",
        "sklearn._loss.loss",
        "sklearn.tree._tree",
        "lightgbm.basic",
        "numpy.random.mtrand",
        "numpy.random._mt19937",
        "ctypes",
    }
)


def check_structure(inventory: Inventory, limits: PickleLimits) -> None:
    """Raise :class:`UnsafeModelState` if the loaded graph aliases an object or is over a size cap."""
    if inventory.aliased:
        _, node = inventory.aliased[0]
        raise UnsafeModelState(inventory.path(node), "an array, tree, booster or estimator is referenced once")
    nodes = [node for _, node in inventory.arrays]
    total = check_array_sizes([array for array, _ in inventory.arrays], lambda index: inventory.path(nodes[index]))
    if total > limits.max_array_bytes:
        raise UnsafeModelState("model", f"arrays total {total} bytes, over the cap of {limits.max_array_bytes}")
    estimators = 0
    tree_nodes = 0
    for obj, node in inventory.instances:
        kind = type(obj)
        if kind.__module__ == "sklearn.tree._tree":
            tree_nodes += obj.node_count
        elif kind.__module__ not in _NOT_ESTIMATORS:
            estimators += 1
            if estimators > limits.max_estimators:
                raise UnsafeModelState(inventory.path(node), f"more than {limits.max_estimators} estimators")
    if tree_nodes > limits.max_tree_nodes:
        raise UnsafeModelState("model", f"trees total {tree_nodes} nodes, over the cap of {limits.max_tree_nodes}")
