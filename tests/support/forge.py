"""Forge the pickles a leaked signing key could ship: a real pipeline with one object's pickled state replaced.

:func:`forge` pickles *model* with the standard pickler, except that objects *replace* recognises are written
with the reduce tuple it returns: the attacker controls every byte, so any state the class's own
``__setstate__`` would receive is fair game. The helpers below pick the objects the attack tests tamper with.
"""

from __future__ import annotations

import copy
import copyreg
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diabetes_risk_model.signing import Keyring, build_package, verify_package
from tests.support.signing import NAME, PV, VERSION

Replace = Callable[[Any], Any]


def forge(model: Any, replace: Replace, protocol: int = 5) -> bytes:
    """*model* pickled, with ``replace(obj)`` (a reduce tuple, or ``None`` to keep it) for each object."""

    class Forger(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            forged = replace(obj)
            return NotImplemented if forged is None else forged

    buffer = io.BytesIO()
    Forger(buffer, protocol=protocol).dump(model)
    return buffer.getvalue()


def signed_model_bytes(data: bytes, directory: Path, keyring: Keyring, verify_ring: Keyring) -> bytes:
    """Sign *data* as a package with the (leaked) *keyring*; return the bytes verification hands the loader."""
    directory.mkdir(parents=True, exist_ok=True)
    pkl = directory / "model.pkl"
    pkl.write_bytes(data)
    out = directory / "signed"
    out.mkdir(exist_ok=True)
    package = build_package(
        out, name=NAME, version=VERSION, parameters_version=PV, model_pickle=pkl, extra_members={}, keyring=keyring
    )
    return bytes(verify_package(package, verify_ring).model_bytes)


def first_tree(pipeline: Any) -> Any:
    """The ``Tree`` of the first stage of the pipeline's gradient boosting."""
    return pipeline.steps[-1][1].estimators_[0, 0].tree_


def with_tree_state(pipeline: Any, mutate: Callable[[dict[str, Any]], None], protocol: int = 5) -> bytes:
    """The pipeline with its first tree's state changed by *mutate* (on a copy of the node array)."""
    target = first_tree(pipeline)

    def replace(obj: Any) -> Any:
        if obj is not target:
            return None
        cls, args, state = obj.__reduce__()
        state = dict(state, nodes=state["nodes"].copy(), values=state["values"].copy())
        mutate(state)
        return (cls, args, state)

    return forge(pipeline, replace, protocol)


def with_kd_tree_state(pipeline: Any, mutate: Callable[[list[Any]], None], protocol: int = 5) -> bytes:
    """A copy of *pipeline* whose final step is a fitted k-nearest-neighbours classifier on a ``KDTree`` (a model
    training's comparison can pick), pickled with the tree's 13-tuple state changed by *mutate* (on a list whose
    index arrays are copies)."""
    import numpy as np
    import pandas as pd
    from sklearn.neighbors import KNeighborsClassifier

    clone = copy.deepcopy(pipeline)
    name, final = clone.steps[-1]
    columns = list(final.feature_names_in_)
    rows = np.random.default_rng(0).normal(size=(64, len(columns)))
    knn = KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree", leaf_size=4)
    clone.steps[-1] = (name, knn.fit(pd.DataFrame(rows, columns=columns), np.arange(64) % 2))
    target = knn._tree

    def replace(obj: Any) -> Any:
        if obj is not target:
            return None
        cls, args, state = obj.__reduce__()
        state = [part.copy() if isinstance(part, np.ndarray) else part for part in state]
        mutate(state)
        return (cls, args, tuple(state))

    return forge(clone, replace, protocol)


def selector_booster(pipeline: Any) -> Any:
    """The LightGBM ``Booster`` the feature-selection step fitted."""
    return pipeline.steps[-2][1].transformer.estimator_._Booster


def with_model_string(pipeline: Any, mutate: Callable[[str], str], protocol: int = 5) -> bytes:
    """The pipeline with the feature selector's booster pickled with ``mutate(model string)``."""
    from lightgbm import Booster

    target = selector_booster(pipeline)

    def replace(obj: Any) -> Any:
        if obj is not target:
            return None
        state = obj.__getstate__()
        state["_handle"] = mutate(state["_handle"])
        return (copyreg.__newobj__, (Booster,), state)  # type: ignore[attr-defined]

    return forge(pipeline, replace, protocol)


def with_attribute(pipeline: Any, path: Callable[[Any], Any], name: str, value: Any, protocol: int = 5) -> bytes:
    """The pipeline with ``setattr(path(copy), name, value)`` on a deep copy (for wiring attacks)."""
    clone = copy.deepcopy(pipeline)
    setattr(path(clone), name, value(clone) if callable(value) else value)
    return pickle.dumps(clone, protocol=protocol)


def rewrite_tree(model: str, index: int, key: str, change: Callable[[list[str]], list[str]]) -> str:
    """*model* with tree *index*'s ``key=`` values passed through *change*, and ``tree_sizes`` recomputed
    the way LightGBM writes them (so the only inconsistency is the one the caller made)."""
    head, _, rest = model.partition("\n\n")
    body, marker, tail = rest.partition("end of trees")
    header = head.split("\n")
    sizes_line = next(i for i, line in enumerate(header) if line.startswith("tree_sizes="))
    sizes = [int(n) for n in header[sizes_line].split("=", 1)[1].split(" ")]
    trees, position = [], 0
    for size in sizes:
        trees.append(body[position : position + size])
        position += size
    lines = trees[index].split("\n")
    for number, line in enumerate(lines):
        if line.startswith(key + "="):
            values = line.split("=", 1)[1]
            lines[number] = key + "=" + " ".join(change(values.split(" ") if values else []))
    trees[index] = "\n".join(lines)
    header[sizes_line] = "tree_sizes=" + " ".join(str(len(tree)) for tree in trees)
    return "\n".join(header) + "\n\n" + "".join(trees) + marker + tail
