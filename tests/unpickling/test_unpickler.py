"""The restricted unpickler: a real trained pycaret pipeline loads and predicts identically; gadgets that
allowed packages re-export (numpy.load, pandas.read_pickle, joblib.load, sklearn.datasets.fetch_openml,
pycaret's own load_model, dotted attribute paths, module objects) are refused; containers no pipeline holds
(pandas, scipy, numpy's Generator, slices) are refused too."""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from diabetes_risk_model.errors import UnsafePickle, VerificationError
from diabetes_risk_model.signing import Expectation, Keyring, build_package, verify_package
from diabetes_risk_model.unpickling import restricted_loads
from diabetes_risk_model.unpickling._unpickler import ALLOWED_NAMES, RestrictedUnpickler
from tests.support.signing import NAME, PV, VERSION


class _Recorder(pickle.Unpickler):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.seen: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str):
        self.seen.add((module, name))
        return super().find_class(module, name)


@pytest.fixture(scope="module")
def pycaret_pipeline(smoke_pipeline, diabetes_csv: Path):
    """The session's real pycaret 3.3.2 pipeline (issue 2's setup flags, gbc; tests/conftest.py) and 50 rows."""
    from diabetes_risk_model.training.data import TARGET, load_data, rename_columns

    sample = rename_columns(load_data(diabetes_csv)).drop(columns=[TARGET]).sample(50, random_state=42)
    return smoke_pipeline, sample


def test_every_global_of_a_real_pipeline_is_allowed(pycaret_pipeline) -> None:
    model, _ = pycaret_pipeline
    recorder = _Recorder(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    recorder.load()
    assert len(recorder.seen) > 20  # sklearn, pycaret, numpy, joblib ... really were exercised
    checker = RestrictedUnpickler(io.BytesIO(b"."))
    for module, name in sorted(recorder.seen):
        checker.find_class(module, name)  # raises UnsafePickle if the allow-list missed one


def test_real_pipeline_round_trips_through_a_signed_package(
    pycaret_pipeline,
    tmp_path: Path,
    keyring: Keyring,
    verify_ring: Keyring,
) -> None:
    model, sample = pycaret_pipeline
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    package = build_package(
        tmp_path, name=NAME, version=VERSION, parameters_version=PV, model_pickle=pkl, extra_members={}, keyring=keyring
    )
    loaded = restricted_loads(verify_package(package, verify_ring, Expectation(NAME, VERSION, PV)).model_bytes)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(sample), model.predict(sample))
    np.testing.assert_allclose(loaded.predict_proba(sample), model.predict_proba(sample))


@pytest.mark.parametrize(
    "value",
    [
        np.arange(10, dtype=np.float32),
        np.float64(1.5),
        np.array(["a", None], dtype=object),
        np.random.RandomState(0),
        {"set": {1, 2}, "tuple": (1, "a"), "bytes": b"x", "none": None},
    ],
    ids=lambda v: type(v).__name__,
)
def test_container_types_a_pipeline_holds_load(value: object) -> None:
    for protocol in (0, 2, 4, 5):
        restored = restricted_loads(pickle.dumps(value, protocol=protocol))
        assert type(restored) is type(value)


@pytest.mark.parametrize(
    "value",
    [
        np.random.default_rng(0),
        pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}),
        pd.Series([1, 2], name="s"),
        pd.Categorical(["a", "b", "a"]),
        scipy.sparse.csr_matrix(np.eye(3)),
        slice(1, 5),
        1 + 2j,
    ],
    ids=lambda v: type(v).__name__,
)
def test_container_types_no_pipeline_holds_are_refused(value: object) -> None:
    with pytest.raises(UnsafePickle):
        restricted_loads(pickle.dumps(value, protocol=4))


def _global(module: str, name: str, call: bool = False) -> bytes:
    """Protocol-4 pickle that resolves module.name via STACK_GLOBAL (dotted names allowed by pickle)."""

    def text(s: str) -> bytes:
        raw = s.encode()
        return b"\x8c" + struct.pack("<B", len(raw)) + raw

    body = text(module) + text(name) + b"\x93"
    if call:
        body += text("x") + b"\x85R"  # (x,) then REDUCE
    return b"\x80\x04" + body + b"."


GADGETS = [
    ("os", "system"),
    ("posix", "system"),
    ("nt", "system"),
    ("subprocess", "Popen"),
    ("subprocess", "check_output"),
    ("sys", "exit"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "__import__"),
    ("builtins", "getattr"),
    ("builtins", "open"),
    ("builtins", "setattr"),
    ("builtins", "globals"),
    ("importlib", "import_module"),
    ("pickle", "loads"),
    ("_pickle", "loads"),
    ("marshal", "loads"),
    ("ctypes", "CDLL"),
    ("runpy", "run_path"),
    ("shutil", "rmtree"),
    ("socket", "socket"),
    ("io", "open"),
    ("codecs", "open"),
    ("webbrowser", "open"),
    ("pty", "spawn"),
    ("numpy", "load"),
    ("numpy", "fromfile"),
    ("numpy.lib.npyio", "load"),
    ("numpy.ctypeslib", "load_library"),
    ("numpy.testing", "assert_"),
    ("numpy.core.multiarray", "fromfile"),
    ("pandas", "read_pickle"),
    ("pandas.io.pickle", "read_pickle"),
    ("pandas", "read_csv"),
    ("pandas", "eval"),
    ("pandas.core.frame", "DataFrame.to_pickle"),
    ("joblib", "load"),
    ("joblib.numpy_pickle", "load"),
    ("scipy.io", "loadmat"),
    ("sklearn.datasets", "fetch_openml"),
    ("sklearn.utils", "_joblib"),
    ("sklearn.utils._testing", "TempMemmap"),
    ("pycaret.internal.persistence", "load_model"),
    ("pycaret.classification", "load_model"),
    # allowed modules, but what they hold is not a class/function defined there
    ("sklearn.pipeline", "np"),
    ("sklearn.pipeline", "check_memory"),
    ("sklearn.base", "__builtins__"),
    ("sklearn.base", "copy"),
    ("sklearn.pipeline", "np.load"),
    ("sklearn.base", "__class__"),
    ("pycaret.internal.pipeline", "os"),
    ("pycaret.internal.pipeline", "joblib"),
    ("pycaret.internal.preprocess.transformers", "pd.read_pickle"),
    ("sklearn.tree._classes", "__loader__"),
    ("sklearn.ensemble", "__import__"),
    ("lightgbm.basic", "ctypes"),
    ("lightgbm.basic", "_LIB"),
    ("sklearn.tree._export", "export_graphviz"),
    ("sklearn.tree", "export_graphviz"),
    ("collections", "namedtuple"),
    ("functools", "reduce"),
    ("copyreg", "_reconstructor.__globals__"),
]


@pytest.mark.parametrize(("module", "name"), GADGETS, ids=[f"{m}.{n}" for m, n in GADGETS])
def test_gadgets_are_refused(module: str, name: str) -> None:
    for payload in (
        _global(module, name),
        _global(module, name, call=True),
        b"c" + module.encode() + b"\n" + name.encode() + b"\n.",
    ):
        with pytest.raises(UnsafePickle):
            restricted_loads(payload)


def test_allow_list_holds_no_dangerous_pair() -> None:
    dangerous = {
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "importlib",
        "pickle",
        "marshal",
        "ctypes",
        "runpy",
        "shutil",
        "socket",
        "io",
    }
    assert not [pair for pair in ALLOWED_NAMES if pair[0].split(".")[0] in dangerous]
    assert not [
        pair
        for pair in ALLOWED_NAMES
        if pair[0] == "builtins"
        and pair[1] in {"eval", "exec", "compile", "__import__", "getattr", "open", "setattr", "globals"}
    ]


def test_refused_import_is_named_and_unprintable_names_are_not_echoed() -> None:
    with pytest.raises(UnsafePickle) as info:
        restricted_loads(_global("os", "system"))
    assert (info.value.module, info.value.name) == ("os", "system")
    with pytest.raises(UnsafePickle) as info:
        restricted_loads(_global("os\x1b[31m", "system"))
    assert "\x1b" not in str(info.value)


def test_persistent_ids_and_garbage_are_refused() -> None:
    with pytest.raises(UnsafePickle):
        restricted_loads(b"\x80\x02X\x01\x00\x00\x00xQ.")  # BINPERSID
    for garbage in (b"", b"\x80\x05", b"not a pickle", b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f"):
        with pytest.raises(VerificationError):
            restricted_loads(garbage)


def test_estimators_this_project_does_not_train_are_refused(diabetes_csv: Path) -> None:
    """A plain scikit-learn Pipeline is not what pycaret ships: its class is not on the list."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = pd.read_csv(diabetes_csv).sample(200, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        df.drop(columns=["Diabetes_binary"]), df["Diabetes_binary"]
    )
    with pytest.raises(UnsafePickle) as info:
        restricted_loads(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    assert (info.value.module, info.value.name) == ("sklearn.pipeline", "Pipeline")
