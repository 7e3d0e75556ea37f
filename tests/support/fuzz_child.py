"""The fuzzer's child: apply one mutation per input line to a real pipeline's pickle, load it with the restricted
loader, predict, and print one JSON line with the outcome.

``python -X faulthandler -m tests.support.fuzz_child MODEL ROWS``: *MODEL* is a pipeline this project trained,
pickled by the test itself (trusted bytes; plain :mod:`pickle` reads it here only to forge the mutants), *ROWS* a
pickled DataFrame of real inputs. Prints ``ready``, then for each case (a JSON mutation description from
:func:`tests.support.fuzz.strategy`) ``{"outcome", "seconds", "rss_kib"}``. Outcomes: ``loaded``, ``refused:<class>``,
``invalid-answer``, ``error:<class>`` (an exception that is not ours). A crash or hang is seen by the parent.
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.forge import forge, rewrite_tree, selector_booster, with_model_string

LONG_GETS = {"LONG_BINGET"}
GETS = {"BINGET", "LONG_BINGET"}


def mutate_bytes(data: bytes, case: dict[str, Any]) -> bytes:
    at = int(case["at"] * len(data))
    patch = bytes.fromhex(case["data"])
    op = case["op"]
    if op == "flip":
        return data[:at] + bytes([data[at] ^ (patch[0] or 1)]) + data[at + 1 :]
    if op == "overwrite":
        return data[:at] + patch + data[at + len(patch) :]
    if op == "delete":
        return data[:at] + data[at + len(patch) :]
    if op == "duplicate":
        return data[:at] + data[at : at + len(patch)] * 2 + data[at + len(patch) :]
    if op == "insert":
        return data[:at] + patch + data[at:]
    return data[:at]  # truncate


def mutate_memo(data: bytes, case: dict[str, Any]) -> bytes:
    """Point one memo read at another entry: aliasing and type confusion through the memo."""
    gets = [(op.name, position) for op, _arg, position in pickletools.genops(data) if op.name in GETS]
    if not gets:
        return data
    name, position = gets[int(case["at"] * len(gets))]
    if name in LONG_GETS:
        return data[: position + 1] + case["target"].to_bytes(4, "little") + data[position + 5 :]
    return data[: position + 1] + bytes([case["target"] % 256]) + data[position + 2 :]


def mutate_tree(pipeline: Any, case: dict[str, Any]) -> bytes:
    """Set one field of one node of one gradient-boosting tree, as the attacker's bytes would."""
    stages = pipeline.steps[-1][1].estimators_.ravel()
    target = stages[case["tree"] % len(stages)].tree_

    def replace(obj: Any) -> Any:
        if obj is not target:
            return None
        cls, args, state = obj.__reduce__()
        nodes = state["nodes"].copy()
        field_type = nodes.dtype[case["field"]]
        value = float(case["value"]) if isinstance(case["value"], str) else case["value"]
        if field_type.kind == "i":
            value = int(value) if np.isfinite(value) else -1
            info = np.iinfo(field_type)
            value = (value - info.min) % (info.max - info.min + 1) + info.min  # wrap as C would
        nodes[case["node"] % len(nodes)][case["field"]] = value
        return (cls, args, dict(state, nodes=nodes))

    return forge(pipeline, replace)


def mutate_booster(pipeline: Any, case: dict[str, Any]) -> bytes:
    """Replace (or append) one value of one key of one tree of the selector's LightGBM model string."""
    model = selector_booster(pipeline).model_to_string()
    trees = model.count("\nTree=")

    def change(values: list[str]) -> list[str]:
        if case["resize"] or not values:
            return [*values, case["value"]]
        values = list(values)
        values[case["at"] % len(values)] = case["value"]
        return values

    return with_model_string(pipeline, lambda text: rewrite_tree(text, case["tree"] % trees, case["key"], change))


def mutate_array(pipeline: Any, case: dict[str, Any]) -> bytes:
    """Rebuild one fitted array's state with another shape or dtype over its original bytes."""
    from numpy.core.multiarray import _reconstruct

    targets = [
        getattr(obj, case["which"])
        for _name, step in pipeline.steps
        for obj in (step, getattr(step, "transformer", None))
        if isinstance(getattr(obj, case["which"], None), np.ndarray)
    ]
    if not targets:
        return pickle.dumps(pipeline, protocol=5)
    target = targets[0]

    def replace(obj: Any) -> Any:
        if obj is not target:
            return None
        state = (1, tuple(case["shape"]), np.dtype(case["dtype"]), False, target.tobytes())
        return (_reconstruct, (np.ndarray, (0,), b"b"), state)

    return forge(pipeline, replace)


def mutant(data: bytes, pipeline: Any, case: dict[str, Any]) -> bytes:
    kind = case["kind"]
    if kind == "bytes":
        return mutate_bytes(data, case)
    if kind == "memo":
        return mutate_memo(data, case)
    return {"tree": mutate_tree, "booster": mutate_booster, "array": mutate_array}[kind](pipeline, case)


def outcome(data: bytes, rows: Any) -> str:
    from diabetes_risk_model.errors import VerificationError
    from diabetes_risk_model.unpickling import restricted_loads

    try:
        model = restricted_loads(data)
    except VerificationError as exc:
        return f"refused:{type(exc).__name__}"
    except Exception as exc:  # not ours: a finding
        return f"error:{type(exc).__name__}"
    try:
        answers = np.asarray(model.predict_proba(rows), dtype=float)
    except Exception as exc:  # loaded, then prediction failed: a finding
        return f"error-predicting:{type(exc).__name__}"
    valid = answers.shape == (len(rows), 2) and np.isfinite(answers).all() and np.allclose(answers.sum(axis=1), 1)
    return "loaded" if valid else "invalid-answer"


def main() -> None:
    data = Path(sys.argv[1]).read_bytes()
    pipeline = pickle.loads(data)  # the test's own trusted pipeline, used only to forge mutants
    rows = pickle.loads(Path(sys.argv[2]).read_bytes())  # the test's own rows
    print("ready", flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        if case.get("die"):  # the harness's own test: a child that dies mid-case
            os.kill(os.getpid(), signal.SIGKILL)
        started = time.monotonic()
        try:
            forged = mutant(data, pipeline, case)
        except Exception as exc:  # the mutation itself did not apply (a bug of the fuzzer, reported)
            result = f"forge-failed:{type(exc).__name__}"
        else:
            result = outcome(forged, rows)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"outcome": result, "seconds": time.monotonic() - started, "rss_kib": rss}), flush=True)


if __name__ == "__main__":
    main()
