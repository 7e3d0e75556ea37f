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

A failure raises :class:`~diabetes_risk_model.errors.UnsafeObjectGraph` naming the type and the path to it.
"""

from __future__ import annotations

import collections
import types
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


def _pair(kind: type) -> Pair:
    return (kind.__module__, kind.__qualname__)


def _instance_types() -> frozenset[Pair]:
    """Classes whose instances may be in the graph: rebuilt ones, those reviewed calls return, loaded types."""
    called_classes = {pair for pair, reason in {**CALLABLES, **VALUES}.items() if reason.startswith("class")}
    return REBUILT_CLASSES | frozenset(called_classes) | LOADED_TYPES


def _refuse(what: str, path: str) -> UnsafeObjectGraph:
    shown = path if len(path) <= _PATH_LIMIT else "..." + path[-_PATH_LIMIT:]
    return UnsafeObjectGraph(f"loaded model holds {what} at {shown}", what=what, path=shown)


def _check_memory(obj: Any, path: str) -> None:
    from joblib.memory import Memory

    if type(obj) is not Memory or obj.location is not None or obj.store_backend is not None:
        raise _refuse("a joblib cache with a location", path)


def _check_callable(value: Any, allowed: frozenset[Pair], path: str) -> None:
    if not isinstance(value, (type, types.FunctionType)) or _pair(value) not in allowed:  # type: ignore[arg-type]
        name = getattr(value, "__qualname__", type(value).__name__)
        raise _refuse(f"the callable {getattr(value, '__module__', '?')}.{name}", path)


def check_object_graph(root: Any, limits: PickleLimits | None = None) -> None:
    """Walk *root* and raise :class:`UnsafeObjectGraph` on the first object outside the rule above."""
    import numpy as np

    max_depth = (limits or PickleLimits()).max_graph_depth
    allowed = _instance_types()
    seen: set[int] = set()
    pending: list[tuple[Any, str, int]] = [(root, "model", 0)]
    while pending:
        obj, path, depth = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if depth > max_depth:
            raise _refuse("objects nested deeper than the limit", path)
        kind = type(obj)
        children: list[tuple[Any, str]] = []
        if kind in _SCALARS:
            continue
        if isinstance(obj, _CALLABLE_KINDS):
            pair = (getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", "?"))
            raise _refuse(f"the callable {pair[0]}.{pair[1]}", path)
        if kind in _CONTAINERS or kind is collections.defaultdict:
            if kind is collections.defaultdict:
                _check_callable(obj.default_factory, DEFAULT_FACTORIES, path + ".default_factory")
            if isinstance(obj, dict):
                children += [(key, f"{path}.<key>") for key in obj]
                for key, value in obj.items():
                    children.append((value, f"{path}[{key!r}]" if type(key) in _SCALARS else path))
            else:
                children += [(item, f"{path}[{index}]") for index, item in enumerate(obj)]
        elif kind is np.ndarray:
            if obj.dtype.hasobject:
                children += [(item, f"{path}[]") for item in obj.ravel()]
        elif isinstance(obj, np.dtype) or (isinstance(obj, np.generic) and not isinstance(obj, np.object_)):
            continue
        elif _pair(kind) in allowed:
            if _pair(kind) == ("joblib.memory", "Memory"):
                _check_memory(obj, path)
            state: Any = getattr(obj, "__dict__", None)
            if _pair(kind) == ("joblib.memory", "NotMemorizedFunc"):
                _check_callable(state.get("func"), MEMO_FUNCS, path + ".func")
                state = {name: value for name, value in state.items() if name != "func"}
            if state is not None:
                if "memory" in state and state["memory"] is not None:
                    _check_memory(state["memory"], path + ".memory")
                children += [(value, f"{path}.{name}") for name, value in state.items()]
        else:
            raise _refuse(f"an object of type {_pair(kind)[0]}.{_pair(kind)[1]}", path)
        pending += [(child, child_path, depth + 1) for child, child_path in children]
