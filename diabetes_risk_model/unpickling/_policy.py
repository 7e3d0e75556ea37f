"""What a model pickle may name, call and build: the reviewed lists behind :mod:`._unpickler` and :mod:`._graph`.

Derived by recording every global, call, ``__new__`` and ``BUILD`` while loading pipelines this project
really trains with pycaret 3.3.2 (``training.pipeline.setup_experiment``, fast and full settings, every model
family ``compare_models`` can pick here: lr, knn, nb, dt, svm, ridge, rf, qda, ada, gbc, lda, et, lightgbm,
dummy), pickled with protocols 0-5, then reviewed by hand. ``tests/unpickling/test_pickle_policy.py`` re-derives
the set from a fresh training and fails on any pair not listed here. Nothing here imports anything.

Three roles, one list each; a pair has exactly one role:

* :data:`REBUILT_CLASSES` — classes pickle rebuilds as ``cls.__new__(cls)`` (``NEWOBJ`` with no arguments, or
  ``copyreg._reconstructor(cls, object, None)``) followed by one ``BUILD`` with the pickled state. Their
  ``__init__`` never runs and the stream cannot pass them arguments.
* :data:`CALLABLES` — the only objects a ``REDUCE`` may call, each with a reason and an argument check in
  :mod:`._calls`.
* :data:`VALUES` — objects the stream may name only as arguments to a reviewed call or as stored values; the
  unpickler never calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

Pair = tuple[str, str]

REBUILT_CLASSES: frozenset[Pair] = frozenset(
    {
        ("joblib.memory", "NotMemorizedFunc"),  # pycaret Pipeline's no-cache wrappers (replaced on load anyway)
        ("lightgbm.basic", "Booster"),
        ("lightgbm.sklearn", "LGBMClassifier"),
        ("pycaret.internal.pipeline", "Pipeline"),
        ("pycaret.internal.preprocess.transformers", "RemoveMulticollinearity"),
        ("pycaret.internal.preprocess.transformers", "RemoveOutliers"),
        ("pycaret.internal.preprocess.transformers", "TransformerWrapper"),
        ("sklearn._loss.link", "Interval"),
        ("sklearn._loss.link", "LogitLink"),
        ("sklearn._loss.loss", "HalfBinomialLoss"),
        ("sklearn.discriminant_analysis", "LinearDiscriminantAnalysis"),
        ("sklearn.discriminant_analysis", "QuadraticDiscriminantAnalysis"),
        ("sklearn.dummy", "DummyClassifier"),
        ("sklearn.ensemble._forest", "ExtraTreesClassifier"),
        ("sklearn.ensemble._forest", "RandomForestClassifier"),
        ("sklearn.ensemble._gb", "GradientBoostingClassifier"),
        ("sklearn.ensemble._iforest", "IsolationForest"),
        ("sklearn.ensemble._weight_boosting", "AdaBoostClassifier"),
        ("sklearn.feature_selection._from_model", "SelectFromModel"),
        ("sklearn.impute._base", "SimpleImputer"),
        ("sklearn.linear_model._logistic", "LogisticRegression"),
        ("sklearn.linear_model._ridge", "RidgeClassifier"),
        ("sklearn.linear_model._stochastic_gradient", "SGDClassifier"),
        ("sklearn.naive_bayes", "GaussianNB"),
        ("sklearn.neighbors._classification", "KNeighborsClassifier"),
        ("sklearn.preprocessing._data", "StandardScaler"),
        ("sklearn.preprocessing._label", "LabelBinarizer"),
        ("sklearn.preprocessing._label", "LabelEncoder"),
        ("sklearn.tree._classes", "DecisionTreeClassifier"),
        ("sklearn.tree._classes", "DecisionTreeRegressor"),
        ("sklearn.tree._classes", "ExtraTreeClassifier"),
        ("sklearn.tree._classes", "ExtraTreeRegressor"),
    }
)

CALLABLES: dict[Pair, str] = {
    # classes whose own pickle path is "call me with these arguments" (argument checks in _calls.py)
    ("numpy", "dtype"): "class; numpy pickles a dtype as dtype(type_string, align, copy) then BUILD",
    ("sklearn.tree._tree", "Tree"): "class; sklearn's Tree.__reduce__ is Tree(n_features, n_classes, n_outputs)",
    ("sklearn.linear_model._sgd_fast", "Hinge"): "class; SGDClassifier's loss pickles as Hinge(threshold)",
    ("collections", "defaultdict"): "class; a defaultdict pickles as defaultdict(factory) then SETITEMS",
    ("builtins", "set"): "class; protocols 2-3 pickle a set as set([items])",
    # functions: the reconstructors pickle itself (or the library's __reduce__) names
    ("copyreg", "_reconstructor"): "protocols 0-1 rebuild a plain object as object.__new__(cls); checked so",
    ("_codecs", "encode"): "protocol 2 pickles bytes as _codecs.encode(text, 'latin1'); only latin1 admitted",
    ("numpy.core.multiarray", "_reconstruct"): "ndarray.__reduce__: an empty (0,) array, filled by BUILD",
    ("numpy.core.multiarray", "scalar"): "numpy scalar.__reduce__: scalar(dtype, raw bytes of one item)",
    ("numpy.core.numeric", "_frombuffer"): "protocol 5 ndarray.__reduce_ex__: frombuffer(bytes, dtype, shape)",
    ("numpy.random._pickle", "__randomstate_ctor"): "RandomState.__reduce__: a fresh MT19937 RandomState",
    ("sklearn._loss._loss", "__pyx_unpickle_CyHalfBinomialLoss"): "Cython's generated __reduce__: new + state",
    ("sklearn.metrics._dist_metrics", "newObj"): "DistanceMetric.__reduce__: cls.__new__(cls), then BUILD",
    ("sklearn.neighbors._kd_tree", "newObj"): "KDTree.__reduce__: cls.__new__(cls), then BUILD",
}

VALUES: dict[Pair, str] = {
    ("numpy", "ndarray"): "class; the subtype argument of _reconstruct",
    ("builtins", "object"): "class; the base argument of copyreg._reconstructor (protocols 0-1)",
    ("sklearn._loss._loss", "CyHalfBinomialLoss"): "class; the type argument of its Cython unpickle function",
    ("sklearn.metrics._dist_metrics", "EuclideanDistance64"): "class; the argument of dist_metrics.newObj",
    ("sklearn.neighbors._kd_tree", "KDTree"): "class; the argument of kd_tree.newObj",
    ("collections", "OrderedDict"): "class; the factory of LightGBM's _best_score defaultdict",
    ("numpy.random._pickle", "__bit_generator_ctor"): "function; the argument of __randomstate_ctor (by name)",
    ("pycaret.internal.pipeline", "_fit_one"): "function; NotMemorizedFunc.func of a pycaret Pipeline",
    ("pycaret.internal.pipeline", "_transform_one"): "function; NotMemorizedFunc.func of a pycaret Pipeline",
    ("pycaret.internal.pipeline", "_full_transform"): "function; NotMemorizedFunc.func of a pycaret Pipeline",
}

ALLOWED_NAMES: frozenset[Pair] = REBUILT_CLASSES | frozenset(CALLABLES) | frozenset(VALUES)
"""Every ``(module, name)`` a pickle may import; ``find_class`` refuses anything else before importing it."""

LOADED_TYPES: frozenset[Pair] = frozenset(
    {
        ("numpy.random.mtrand", "RandomState"),  # made by __randomstate_ctor
        ("numpy.random._mt19937", "MT19937"),  # made by __bit_generator_ctor
        ("ctypes", "c_void_p"),  # Booster.__setstate__ parses the model string into a native handle
        ("joblib.memory", "Memory"),  # Pipeline.__setstate__ sets memory=None, which joblib wraps as Memory(None)
    }
)
"""Types the reviewed reconstructors and ``__setstate__`` methods create that the stream never names."""

MEMO_FUNCS: frozenset[Pair] = frozenset(
    {
        ("pycaret.internal.pipeline", "_fit_one"),
        ("pycaret.internal.pipeline", "_transform_one"),
        ("pycaret.internal.pipeline", "_full_transform"),
    }
)
"""The only values a ``joblib.memory.NotMemorizedFunc.func`` may hold (pycaret's Pipeline wraps these three)."""

DEFAULT_FACTORIES: frozenset[Pair] = frozenset({("collections", "OrderedDict")})
"""The only ``defaultdict.default_factory`` values (LightGBM's ``_best_score``)."""

GRAPH_CALLABLES: frozenset[Pair] = MEMO_FUNCS | DEFAULT_FACTORIES
"""Every function or class the loaded object may hold as a value, each only in the one place named above: no
estimator parameter holds a callable (no ``FunctionTransformer.func``, ``metric=``, ``importance_getter=`` or
``ColumnTransformer`` callable)."""

CACHE_KEYS: frozenset[str] = frozenset({"memory", "_memory"})
"""State keys naming a joblib cache (sklearn/imblearn ``Pipeline.memory``, pycaret's ``Pipeline._memory``)."""


@dataclass(frozen=True)
class PickleLimits:
    """Bounds on one stream (and on the loaded object's depth), far above what a real pipeline needs.

    The real pipelines measured while deriving the lists (2-7 MB) use at most about 30,000 opcodes, 6,000 memo
    entries and a MARK depth of 12; ``test_default_limits_leave_room_for_the_real_pipeline`` loads the smoke
    pipeline under limits about ten times tighter than these defaults.

    The structural caps (``REDUCE``/``NEWOBJ`` opcodes, objects the graph walk visits, estimators, total tree
    nodes, total array bytes) are sized from the same measurements; the figures and margins are in
    ``docs/security.md``.
    """

    max_opcodes: int = 5_000_000
    max_memo: int = 1_000_000
    max_mark_depth: int = 64
    max_graph_depth: int = 200
    max_seconds: float = 60.0
    max_reduces: int = 20_000
    max_newobjs: int = 20_000
    max_graph_objects: int = 500_000
    max_estimators: int = 5_000
    max_tree_nodes: int = 2_000_000
    max_array_bytes: int = 512 * 1024 * 1024
