"""Restricted unpickling: the last line of defence, used only after a package's signature has verified.

A signature proves who made the pickle, not that it is harmless; a leaked signing key or a poisoned
training job could still ship ``os.system``. :class:`RestrictedUnpickler` overrides ``find_class`` — the
only hook through which a pickle can reach code — and resolves a global only if:

* ``(module, name)`` is in :data:`ALLOWED_NAMES` (explicit pairs, used for ``numpy``, ``pandas``, ``scipy``,
  ``collections``, ``builtins``, ``joblib``: packages that also export dangerous callables such as
  ``numpy.load``, ``pandas.read_pickle``, ``joblib.load``), or
* ``module`` is one of :data:`ALLOWED_MODULE_PREFIXES` (estimator sub-packages of scikit-learn and the two
  pycaret modules a pipeline is made of — not ``sklearn.datasets``, ``sklearn.utils`` or
  ``pycaret.internal.persistence``), ``name`` is a plain identifier (no dotted attribute paths, no dunder
  names except Cython's ``__pyx_unpickle_*``), and the resolved object is a class or function *defined* in
  an allowed module (so a re-exported ``os`` module or foreign function is refused).

Everything else raises :class:`~diabetes_risk_model.errors.UnsafePickle` naming the refused import.
The lists were derived by recording ``find_class`` while loading real pycaret 3.3.2 pipelines (setup with
outlier removal, normalisation, feature selection and multicollinearity removal; ``gbc`` and ``lightgbm``
models) and pandas/numpy/scipy containers; ``tests/signing/test_unpickler.py`` re-derives them from a
freshly trained pipeline.
"""

from __future__ import annotations

import _compat_pickle
import inspect
import pickle
import re
from typing import Any

from diabetes_risk_model.errors import DiabetesRiskModelError, UnsafePickle, VerificationError

_NUMPY_CORE = ("numpy.core", "numpy._core")

ALLOWED_NAMES: frozenset[tuple[str, str]] = frozenset(
    {
        ("builtins", "slice"),
        ("builtins", "complex"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "range"),
        ("builtins", "object"),
        ("copyreg", "_reconstructor"),
        ("_codecs", "encode"),  # protocol <= 2 pickles bytes as _codecs.encode(str, "latin1")
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),
        ("functools", "partial"),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "timedelta"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        *((f"{core}.multiarray", "_reconstruct") for core in _NUMPY_CORE),
        *((f"{core}.multiarray", "scalar") for core in _NUMPY_CORE),
        *((f"{core}.numeric", "_frombuffer") for core in _NUMPY_CORE),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._generator", "Generator"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.series", "Series"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.indexes.multi", "MultiIndex"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.internals.managers", "SingleBlockManager"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"),
        ("pandas.core.arrays.categorical", "Categorical"),
        ("pandas.core.dtypes.dtypes", "CategoricalDtype"),
        ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
        ("scipy.sparse._csr", "csr_matrix"),
        ("scipy.sparse._csc", "csc_matrix"),
        ("joblib.memory", "NotMemorizedFunc"),
        ("lightgbm.sklearn", "LGBMClassifier"),
        ("lightgbm.sklearn", "LGBMRegressor"),
        ("lightgbm.basic", "Booster"),
        ("sklearn.utils._bunch", "Bunch"),
    }
)

ALLOWED_MODULE_PREFIXES: tuple[str, ...] = (
    *(
        f"sklearn.{sub}"
        for sub in (
            "base",
            "pipeline",
            "compose",
            "preprocessing",
            "impute",
            "feature_selection",
            "ensemble",
            "tree",
            "linear_model",
            "svm",
            "neighbors",
            "naive_bayes",
            "discriminant_analysis",
            "neural_network",
            "gaussian_process",
            "kernel_approximation",
            "decomposition",
            "cluster",
            "calibration",
            "dummy",
            "multiclass",
            "_loss",
            "isotonic",
            "covariance",
        )
    ),
    "pycaret.internal.pipeline",
    "pycaret.internal.preprocess.transformers",
)

DENIED_MODULE_PREFIXES: tuple[str, ...] = (
    "sklearn.tree._export",  # export_graphviz(out_file=...) writes files
)
"""Sub-modules of allowed prefixes that hold file-writing helpers (found by scanning signatures for
file/path/out parameters)."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _safe_text(text: str, pattern: re.Pattern[str]) -> str:
    """Echo a pickle's module/name only if it is a plain (dotted) identifier of sane length."""
    return text if len(text) <= 100 and pattern.fullmatch(text) else "<non-identifier>"


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` enforces the allow-list; ``persistent_load`` is refused."""

    def find_class(self, module: str, name: str) -> Any:
        # Protocol <= 2 pickles use Python 2 names (``__builtin__.set``); pickle maps them inside
        # find_class, so map first and check the names that would really be imported.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        refuse = UnsafePickle(_safe_text(module, _DOTTED), _safe_text(name, _DOTTED))
        if (module, name) in ALLOWED_NAMES:
            return super().find_class(module, name)
        if not _under(module, ALLOWED_MODULE_PREFIXES) or _under(module, DENIED_MODULE_PREFIXES):
            raise refuse
        if not _IDENTIFIER.fullmatch(name):
            raise refuse
        if name.startswith("__") and not name.startswith("__pyx_unpickle_"):
            raise refuse
        try:
            obj = super().find_class(module, name)
        except (ImportError, AttributeError):
            raise refuse from None
        defined_in = getattr(obj, "__module__", None)
        if inspect.ismodule(obj) or not callable(obj) or not isinstance(defined_in, str):
            raise refuse
        if _under(defined_in, DENIED_MODULE_PREFIXES) or (
            not _under(defined_in, ALLOWED_MODULE_PREFIXES) and (defined_in, name) not in ALLOWED_NAMES
        ):
            raise refuse
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("pickle", "persistent_load")


class _ViewReader:
    """Minimal read-only file over a memoryview, so the verified buffer is unpickled without a copy."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = self._view[self._pos : end].tobytes()
        self._pos = end
        return data

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        n = min(len(target), len(self._view) - self._pos)
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def readline(self, size: int = -1) -> bytes:
        stop = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        end = self._pos
        while end < stop:
            chunk = self._view[end : min(stop, end + 4096)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        return self.read(end - self._pos)


def restricted_loads(data: bytes | memoryview) -> Any:
    """Unpickle *data* through :class:`RestrictedUnpickler`.

    Refused imports raise :class:`UnsafePickle`; any other failure while loading (corrupt stream, an
    allowed constructor rejecting its arguments) becomes a :class:`VerificationError` naming only the
    exception type, never the bytes.
    """
    view = memoryview(data).cast("B")
    try:
        return RestrictedUnpickler(_ViewReader(view)).load()
    except DiabetesRiskModelError:
        raise
    except Exception as exc:  # anything an untrusted stream can trigger
        raise VerificationError(f"pickle could not be loaded safely ({type(exc).__name__})") from None
