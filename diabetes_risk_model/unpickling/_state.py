"""The state checks the unpickler runs before a ``BUILD`` or a reviewed call hands state to native code.

:class:`StateGate` is created per stream. Before ``BUILD`` applies a state it picks the check for the target's
class (an ``ndarray``, a ``dtype``, sklearn's ``Tree``/``KDTree``, LightGBM's ``Booster``), counts array bytes
and tree nodes against :class:`~._policy.PickleLimits` before anything is allocated, and remembers what a
booster's model string says about its features (:attr:`StateGate.boosters`) for the wiring check. Refusals
are :class:`~diabetes_risk_model.errors.UnsafeModelState` naming the object (class and its ordinal in the
stream, then the field) and the rule.
"""

from __future__ import annotations

import collections
from typing import Any

from diabetes_risk_model.errors import UnsafeModelState
from diabetes_risk_model.unpickling._policy import PickleLimits
from diabetes_risk_model.unpickling._state_lightgbm import BoosterFacts, check_booster_state
from diabetes_risk_model.unpickling._state_numpy import array_bytes, check_array_state, check_dtype_state
from diabetes_risk_model.unpickling._state_tree import check_kd_tree_state, check_tree_state

_TREE = ("sklearn.tree._tree", "Tree")
_KD_TREE = ("sklearn.neighbors._kd_tree", "KDTree")
_BOOSTER = ("lightgbm.basic", "Booster")


class StateGate:
    """Per-stream state checks and running totals (array bytes, tree nodes)."""

    def __init__(self, limits: PickleLimits) -> None:
        self._limits = limits
        self._ordinals: collections.Counter[str] = collections.Counter()
        self.array_bytes = 0
        self.tree_nodes = 0
        self.boosters: dict[int, BoosterFacts] = {}

    def _where(self, name: str) -> str:
        self._ordinals[name] += 1
        return f"{name}#{self._ordinals[name]}"

    def _add_bytes(self, size: int, where: str) -> None:
        self.array_bytes += size
        if self.array_bytes > self._limits.max_array_bytes:
            raise UnsafeModelState(where, f"arrays total more than {self._limits.max_array_bytes} bytes")

    def before_build(self, inst: Any, state: Any) -> None:
        """Raise :class:`UnsafeModelState` unless *state* is safe to hand to *inst*'s ``__setstate__``."""
        import numpy as np

        kind = type(inst)
        if kind is np.ndarray:
            where = self._where("ndarray")
            self._add_bytes(check_array_state(state, where, self._limits.max_array_bytes), where)
        elif isinstance(inst, np.dtype):
            check_dtype_state(inst, state, self._where("dtype"))
        else:
            pair = (kind.__module__, kind.__qualname__)
            if pair == _TREE:
                where = self._where("Tree")
                check_tree_state(inst, state, where)
                self.tree_nodes += state["node_count"]
                if self.tree_nodes > self._limits.max_tree_nodes:
                    raise UnsafeModelState(where, f"trees total more than {self._limits.max_tree_nodes} nodes")
            elif pair == _KD_TREE:
                check_kd_tree_state(state, self._where("KDTree"))
            elif pair == _BOOSTER:
                facts = check_booster_state(state)
                if facts is not None:
                    self.boosters[id(inst)] = facts

    def after_call(self, result: Any) -> None:
        """Count an array a reviewed call (``_frombuffer``) returned against the byte cap."""
        import numpy as np

        if type(result) is np.ndarray:
            where = self._where("ndarray")
            self._add_bytes(array_bytes(result.shape, result.itemsize, where), where)
