"""Check a freshly unpickled model before anything uses it (run by :func:`.unpickler.restricted_loads`).

The unpickler decides what the stream may *do*; this decides what the result may *be*. One iterative walk
(bounded depth, each object once) over containers, object arrays and instance ``__dict__`` values checks:

1. **Types.** Every object is a plain value (``str``, ``int``, ``float``, ``bool``, ``bytes``, ``None``), a
   container (``list``, ``tuple``, ``dict``, ``set``, ``frozenset``, ``OrderedDict``, a ``defaultdict`` whose
   factory is reviewed), a numpy array, dtype or non-object scalar, or an instance of a reviewed class
   (:data:`~._policy.REBUILT_CLASSES`, the classes reviewed calls build, :data:`~._policy.LOADED_TYPES`).
2. **Callables.** No function or class is held as a value (so no estimator parameter such as
   ``FunctionTransformer.func``, ``metric=``, ``importance_getter=`` or a ``ColumnTransformer`` callable),
   except in two reviewed places: a ``NotMemorizedFunc.func`` is one of :data:`~._policy.MEMO_FUNCS`,
   a ``defaultdict`` factory one of :data:`~._policy.DEFAULT_FACTORIES`.
3. **Caching is off.** Every ``joblib.Memory`` has no location, and every ``memory`` attribute is ``None`` or
   such a Memory. The unpickler already refuses a pickled state naming a cache (a real pycaret pipeline always
   pickles ``_memory=None``: its ``__getstate__`` drops it), so a cache can neither be created while loading
   nor written or read back (with joblib's unrestricted unpickler) while predicting. Refusing rather than
   resetting means the service never serves an object that differs from the one that was signed.

The walk visits at most :attr:`~._policy.PickleLimits.max_graph_objects` objects and keeps, per object, only a
link to its parent and the key or attribute name that led to it: the path string is built only when refusing,
so a wide container with long keys costs no more than the objects themselves. It returns an
:class:`Inventory` (arrays, instances, and objects reached through more than one reference) for the structure
and wiring checks (:mod:`._structure`, :mod:`._wiring`).

A failure raises :class:`~diabetes_risk_model.errors.UnsafeObjectGraph` naming the type and the path to it.
"""

from __future__ import annotations

import collections
import types
from dataclasses import dataclass, field
from typing import Any

from diabetes_risk_model.errors import UnsafeObjectGraph
from diabetes_risk_model.unpickling._policy import (
    CALLABLES,
    DEFAULT_FACTORIES,
    LOADED_TYPES,
    MEMO_FUNCS,
    REBUILT_CLASSES,
    VALUES,
    Pair,
    PickleLimits,
)

_SCALARS: frozenset[type] = frozenset({str, int, float, bool, bytes, type(None)})
_CONTAINERS: frozenset[type] = frozenset({list, tuple, set, frozenset, dict, collections.OrderedDict})
_CALLABLE_KINDS = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType)
_PATH_LIMIT = 160
_NO_PARENT = -1

ALIAS_EDGES: frozenset[tuple[Pair, str]] = frozenset(
    {
        (("lightgbm.sklearn", "LGBMClassifier"), "_classes"),  # the same array as its _le.classes_
        # an ensemble's fitted template (estimator_) is its configured estimator object itself
        (("sklearn.ensemble._iforest", "IsolationForest"), "estimator_"),
        (("sklearn.ensemble._forest", "RandomForestClassifier"), "estimator_"),
        (("sklearn.ensemble._forest", "ExtraTreesClassifier"), "estimator_"),
        (("sklearn.ensemble._weight_boosting", "AdaBoostClassifier"), "estimator_"),
        (("sklearn.tree._classes", "DecisionTreeClassifier"), "classes_"),  # AdaBoost members share its classes_
    }
)
"""``(owner class, attribute)`` edges that training fills with an object already held elsewhere (measured on
the real pipelines); every other array, tree, booster or estimator is reached through exactly one reference."""

_SHAREABLE: frozenset[Pair] = frozenset({("numpy.random.mtrand", "RandomState"), ("joblib.memory", "Memory")})
"""Instances training shares between estimators on purpose (one RandomState for every tree of a boosting)."""


@dataclass
class Inventory:
    """What the walk saw: nodes are indexes into :attr:`links`, rendered as a path by :meth:`path`."""

    links: list[tuple[int, Any]] = field(default_factory=list)  # node -> (parent node, key or attribute)
    arrays: list[tuple[Any, int]] = field(default_factory=list)
    instances: list[tuple[Any, int]] = field(default_factory=list)
    aliased: list[tuple[Any, int]] = field(default_factory=list)

    def path(self, node: int) -> str:
        """The path from the root to *node* (``model.steps[6][1].estimators_[]``), shortened to its tail."""
        parts: list[str] = []
        length = 0
        while node != _NO_PARENT and length <= _PATH_LIMIT:
            node, label = self.links[node]
            if type(label) is str:
                part = label
            elif type(label) is tuple:
                part = f"[{label[0]!r:.60}]"
            else:
                part = f"[{label}]" if type(label) is int else "[]"
            parts.append(part if node == _NO_PARENT or part.startswith("[") else "." + part)
            length += len(part)
        shown = "".join(reversed(parts))
        return shown if node == _NO_PARENT else "..." + shown


def _pair(kind: type) -> Pair:
    return (kind.__module__, kind.__qualname__)


def _instance_types() -> frozenset[Pair]:
    """Classes whose instances may be in the graph: rebuilt ones, those reviewed calls return, loaded types."""
    called_classes = {pair for pair, reason in {**CALLABLES, **VALUES}.items() if reason.startswith("class")}
    return REBUILT_CLASSES | frozenset(called_classes) | LOADED_TYPES


def _refuse(what: str, inventory: Inventory, node: int) -> UnsafeObjectGraph:
    path = inventory.path(node)
    return UnsafeObjectGraph(f"loaded model holds {what} at {path}", what=what, path=path)


def _check_memory(obj: Any, inventory: Inventory, node: int) -> None:
    from joblib.memory import Memory

    if type(obj) is not Memory or obj.location is not None or obj.store_backend is not None:
        raise _refuse("a joblib cache with a location", inventory, node)


def _check_callable(value: Any, allowed: frozenset[Pair], inventory: Inventory, node: int, label: str) -> None:
    if not isinstance(value, (type, types.FunctionType)) or _pair(value) not in allowed:  # type: ignore[arg-type]
        name = getattr(value, "__qualname__", type(value).__name__)
        inventory.links.append((node, label))
        raise _refuse(f"the callable {getattr(value, '__module__', '?')}.{name}", inventory, len(inventory.links) - 1)


def check_object_graph(root: Any, limits: PickleLimits | None = None) -> Inventory:
    """Walk *root*, raise :class:`UnsafeObjectGraph` on the first object outside the rule above, and return
    what the walk saw."""
    import numpy as np

    limits = limits or PickleLimits()
    allowed = _instance_types()
    inventory = Inventory()
    links = inventory.links
    seen: dict[int, int] = {}  # id -> references outside ALIAS_EDGES so far, or -1 if it may be shared
    pending: list[tuple[Any, int, Any, int, bool]] = [(root, _NO_PARENT, "model", 0, False)]
    while pending:
        obj, parent, label, depth, alias_ok = pending.pop()
        refs = seen.get(id(obj))
        if refs is not None:
            if refs >= 0 and not alias_ok:
                seen[id(obj)] = refs + 1
                if refs + 1 == 2:
                    links.append((parent, label))
                    inventory.aliased.append((obj, len(links) - 1))
            continue
        links.append((parent, label))
        node = len(links) - 1
        if node >= limits.max_graph_objects:
            raise _refuse(f"more than {limits.max_graph_objects} objects", inventory, node)
        kind = type(obj)
        seen[id(obj)] = -1
        if kind in _SCALARS:
            continue
        if depth > limits.max_graph_depth:
            raise _refuse("objects nested deeper than the limit", inventory, node)
        children: list[tuple[Any, Any]] = []
        owner: Pair | None = None
        if isinstance(obj, _CALLABLE_KINDS):
            pair = (getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", "?"))
            raise _refuse(f"the callable {pair[0]}.{pair[1]}", inventory, node)
        if kind in _CONTAINERS or kind is collections.defaultdict:
            if kind is collections.defaultdict:
                _check_callable(obj.default_factory, DEFAULT_FACTORIES, inventory, node, "default_factory")
            if isinstance(obj, dict):
                children += [(key, "<key>") for key in obj]
                children += [(value, (key,) if type(key) in _SCALARS else None) for key, value in obj.items()]
            else:
                children += [(item, index) for index, item in enumerate(obj)]
        elif kind is np.ndarray:
            seen[id(obj)] = 0 if alias_ok else 1
            inventory.arrays.append((obj, node))
            if obj.dtype.hasobject:
                children += [(item, None) for item in obj.ravel()]
        elif isinstance(obj, np.dtype) or (isinstance(obj, np.generic) and not isinstance(obj, np.object_)):
            continue
        elif _pair(kind) in allowed:
            owner = _pair(kind)
            seen[id(obj)] = -1 if owner in _SHAREABLE else 0 if alias_ok else 1
            inventory.instances.append((obj, node))
            if owner == ("joblib.memory", "Memory"):
                _check_memory(obj, inventory, node)
            state: Any = getattr(obj, "__dict__", None)
            if owner == ("joblib.memory", "NotMemorizedFunc"):
                _check_callable(state.get("func"), MEMO_FUNCS, inventory, node, "func")
                state = {name: value for name, value in state.items() if name != "func"}
            if state is not None:
                if "memory" in state and state["memory"] is not None:
                    links.append((node, "memory"))
                    _check_memory(state["memory"], inventory, len(links) - 1)
                children += [(value, name) for name, value in state.items()]
        else:
            raise _refuse(f"an object of type {_pair(kind)[0]}.{_pair(kind)[1]}", inventory, node)
        pending += [(child, node, name, depth + 1, (owner, name) in ALIAS_EDGES) for child, name in children]
    return inventory
