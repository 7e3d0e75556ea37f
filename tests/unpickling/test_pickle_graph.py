"""The loaded object is checked before it is returned: no joblib cache, no foreign callable, no foreign type;
and the stream limits (opcodes, memo, depth, time) each stop a hostile stream with a refusal of ours."""

from __future__ import annotations

import copyreg
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from diabetes_risk_model.errors import PickleLimitExceeded, PickleRefused, UnsafeObjectGraph, UnsafePickle
from diabetes_risk_model.signing import Keyring, build_package, verify_package
from diabetes_risk_model.unpickling import restricted_loads
from diabetes_risk_model.unpickling._graph import check_object_graph
from diabetes_risk_model.unpickling._policy import PickleLimits
from tests.support.signing import NAME, PV, VERSION


def _with_cache(model: Any, key: str, location: str) -> bytes:
    """The real pipeline, pickled with its state naming a cache directory (what a leaked key can sign)."""

    class Forger(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if obj is model:
                state = obj.__getstate__()
                state[key] = location
                return (copyreg.__newobj__, (type(obj),), state)  # type: ignore[attr-defined]
            return NotImplemented

    buffer = io.BytesIO()
    Forger(buffer, protocol=4).dump(model)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rows(diabetes_csv: Path) -> pd.DataFrame:
    from diabetes_risk_model.training.data import TARGET, load_data, rename_columns

    return rename_columns(load_data(diabetes_csv)).drop(columns=[TARGET]).sample(20, random_state=1)


def test_control_plain_pickle_creates_and_fills_the_cache(
    smoke_pipeline: Any, rows: pd.DataFrame, tmp_path: Path
) -> None:
    """Without the rule, loading creates the directory and predicting writes joblib cache files into it."""
    cache = tmp_path / "cache"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(_with_cache(smoke_pipeline, "_memory", str(cache)))
    rows_file = tmp_path / "rows.pkl"
    rows.to_pickle(rows_file)
    code = textwrap.dedent(
        f"""
        import pickle, warnings, pandas as pd
        warnings.filterwarnings("ignore")
        model = pickle.loads(open({str(evil)!r}, "rb").read())
        model.predict(pd.read_pickle({str(rows_file)!r}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300, capture_output=True)
    assert cache.is_dir() and any(path.is_file() for path in cache.rglob("*"))


@pytest.mark.parametrize("key", ["_memory", "memory"])
def test_signed_pipeline_naming_a_cache_is_refused_and_creates_nothing(
    smoke_pipeline: Any, rows: pd.DataFrame, key: str, tmp_path: Path, keyring: Keyring, verify_ring: Keyring
) -> None:
    cache = tmp_path / "cache"
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(_with_cache(smoke_pipeline, key, str(cache)))
    out = tmp_path / "out"
    out.mkdir()
    package = build_package(
        out, name=NAME, version=VERSION, parameters_version=PV, model_pickle=pkl, extra_members={}, keyring=keyring
    )
    with pytest.raises(PickleRefused) as info:
        restricted_loads(verify_package(package, verify_ring).model_bytes)
    assert info.value.context.get("field") == "memory"
    assert not cache.exists()


def test_real_pipeline_loads_with_caching_off_and_predicts_without_touching_disk(
    smoke_pipeline: Any, rows: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from joblib.memory import Memory, NotMemorizedFunc

    monkeypatch.chdir(tmp_path)
    loaded = restricted_loads(pickle.dumps(smoke_pipeline, protocol=5))
    assert type(loaded._memory) is Memory and loaded._memory.location is None
    assert all(type(f) is NotMemorizedFunc for f in (loaded._memory_fit, loaded._memory_transform))
    np.testing.assert_array_equal(loaded.predict(rows), smoke_pipeline.predict(rows))
    assert list(tmp_path.iterdir()) == []


_PREDICT_AUDIT = textwrap.dedent(
    """
    import json, sys, warnings, pandas as pd
    warnings.filterwarnings("ignore")
    from diabetes_risk_model.unpickling import restricted_loads
    rows = pd.read_pickle(sys.argv[2])
    model = restricted_loads(open(sys.argv[1], "rb").read())
    events = []
    def hook(event, args):
        if event in ("open", "pickle.find_class", "marshal.loads", "socket.connect", "subprocess.Popen") or (
            event.startswith(("os.", "shutil.")) and event not in ("os.getenv",)
        ):
            events.append(event)
    sys.addaudithook(hook)
    for _ in range(3):
        model.predict(rows)
        model.predict_proba(rows)
    seen, events[:] = sorted(set(events)), []
    open(sys.argv[2], "rb").close()  # control: the hook does see a file being opened
    print(json.dumps({"events": seen, "control": events}))
    """
)


def test_predicting_after_loading_touches_no_file_and_unpickles_nothing(
    smoke_pipeline: Any, rows: pd.DataFrame, tmp_path: Path
) -> None:
    """An audit hook installed after restricted_loads sees no open, os.*, pickle or socket event while predicting."""
    model_file, rows_file = tmp_path / "model.pkl", tmp_path / "rows.pkl"
    model_file.write_bytes(pickle.dumps(smoke_pipeline, protocol=4))
    rows.to_pickle(rows_file)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.run(
        [sys.executable, "-c", _PREDICT_AUDIT, str(model_file), str(rows_file)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report == {"events": [], "control": ["open"]}


def _estimator_with(**params: Any) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**params)


@pytest.mark.parametrize(
    "value",
    [np.ndarray, np.core.multiarray._reconstruct, np.load, print],
    ids=["allowed-class-as-metric", "allowed-reconstructor-as-metric", "numpy.load", "builtin"],
)
def test_callable_parameter_outside_the_reviewed_list_is_refused(value: Any) -> None:
    with pytest.raises(UnsafeObjectGraph, match="callable"):
        check_object_graph(_estimator_with(metric=value))


def test_allowed_global_smuggled_as_a_parameter_is_refused_after_loading() -> None:
    """numpy.ndarray may be imported (as _reconstruct's argument) but not left in the model as metric=."""
    with pytest.raises(UnsafeObjectGraph) as info:
        restricted_loads(pickle.dumps(_estimator_with(metric=np.ndarray), protocol=4))
    assert info.value.context["path"] == "model.metric"


@pytest.mark.parametrize("builder", ["function-transformer", "column-transformer", "select-from-model-getter"])
def test_foreign_transformers_and_getters_are_refused(builder: str) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_selection import SelectFromModel
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import FunctionTransformer

    model = {
        "function-transformer": lambda: FunctionTransformer(func=np.load),
        "column-transformer": lambda: ColumnTransformer([("x", "passthrough", np.load)]),
        "select-from-model-getter": lambda: SelectFromModel(LogisticRegression(), importance_getter=np.load),
    }[builder]()
    with pytest.raises(UnsafeObjectGraph):
        check_object_graph(model)
    with pytest.raises(UnsafePickle):
        restricted_loads(pickle.dumps(model, protocol=4))


def test_a_joblib_cache_object_in_the_graph_is_refused(tmp_path: Path) -> None:
    from joblib import Memory

    with pytest.raises(UnsafeObjectGraph, match="joblib cache"):
        check_object_graph({"memory": Memory(location=str(tmp_path / "c"), verbose=0)})


# -- limits ---------------------------------------------------------------------------------------------------


def _nested_list(depth: int) -> bytes:
    return b"\x80\x04" + b"](" * depth + b"e" * depth + b"."


@pytest.mark.parametrize(
    ("payload", "limits", "limit"),
    [
        (pickle.dumps(list(range(5000)), protocol=4), PickleLimits(max_opcodes=1000), "max_opcodes"),
        (pickle.dumps([str(i) for i in range(500)], protocol=4), PickleLimits(max_memo=100), "max_memo"),
        (_nested_list(100), PickleLimits(max_mark_depth=64), "max_mark_depth"),
        (pickle.dumps(list(range(5000)), protocol=4), PickleLimits(max_seconds=0.0), "max_seconds"),
    ],
    ids=["opcodes", "memo", "mark-depth", "time"],
)
def test_stream_over_a_limit_is_refused(payload: bytes, limits: PickleLimits, limit: str) -> None:
    with pytest.raises(PickleLimitExceeded) as info:
        restricted_loads(payload, limits=limits)
    assert info.value.context["limit"] == limit


def test_deep_object_graph_is_refused_without_recursion() -> None:
    value: Any = None
    for _ in range(300):
        value = (value,)
    payload = b"\x80\x04N" + b"\x85" * 300 + b"."  # TUPLE1 x 300: no MARK, so only the graph walk sees the depth
    with pytest.raises(UnsafeObjectGraph, match="deeper"):
        restricted_loads(payload)
    assert restricted_loads(payload, limits=PickleLimits(max_graph_depth=400)) == value


def test_default_limits_leave_room_for_the_real_pipeline(smoke_pipeline: Any) -> None:
    """The real pipeline loads under limits far tighter than the defaults (each about 10x what it uses)."""
    tight = PickleLimits(max_opcodes=300_000, max_memo=60_000, max_mark_depth=16, max_graph_depth=40, max_seconds=30)
    restricted_loads(pickle.dumps(smoke_pipeline, protocol=4), limits=tight)


def test_a_bytearray_longer_than_the_stream_is_refused_before_allocating() -> None:
    payload = b"\x80\x05\x96" + struct.pack("<Q", 1 << 40) + b"."  # claims a 1 TiB bytearray in 11 bytes
    with pytest.raises(PickleRefused, match="longer than the stream"):
        restricted_loads(payload)
    array = np.arange(5.0)  # protocol 5 ships an array's bytes as a BYTEARRAY8 for numpy's _frombuffer
    np.testing.assert_array_equal(restricted_loads(pickle.dumps(array, protocol=5)), array)


def _dict_with_keys(keys: list[Any]) -> bytes:
    return pickle.dumps(dict.fromkeys(keys, 1), protocol=4)


@pytest.mark.parametrize(
    "keys",
    [
        [float(k * (2**61 - 1)) for k in range(1, 50)],  # every one hashes to 0: O(n**2) comparisons
        [k * (2**61 - 1) for k in range(1, 50)],
        [tuple(range(9))],
        [((1, 2), 3)],
    ],
    ids=["colliding-floats", "colliding-big-ints", "long-tuple", "nested-tuple"],
)
def test_keys_an_attacker_can_make_expensive_to_hash_are_refused(keys: list[Any]) -> None:
    with pytest.raises(PickleRefused, match="composite key"):
        restricted_loads(_dict_with_keys(keys))


def test_keys_a_pipeline_uses_load() -> None:
    keys = ["a", b"b", 7, -(2**31), True, None, np.int8(3), ("x", 1)]
    assert list(restricted_loads(_dict_with_keys(keys))) == keys


def test_callables_are_admitted_only_in_their_reviewed_place() -> None:
    import collections

    from joblib.memory import NotMemorizedFunc
    from pycaret.internal.pipeline import _fit_one

    check_object_graph(NotMemorizedFunc(_fit_one))
    check_object_graph(collections.defaultdict(collections.OrderedDict))
    with pytest.raises(UnsafeObjectGraph):
        check_object_graph(_estimator_with(metric=_fit_one))  # a reviewed function, in the wrong place
    with pytest.raises(UnsafeObjectGraph):
        check_object_graph(NotMemorizedFunc(collections.OrderedDict))
    with pytest.raises(UnsafeObjectGraph):
        check_object_graph(collections.defaultdict(list))
