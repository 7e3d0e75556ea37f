"""Wiring of a loaded pipeline: the steps, estimators, labels and columns training produces, and nothing else.

For a pycaret ``Pipeline`` root:

* the steps are exactly :data:`STEPS` in order (name, wrapper class, wrapped class), the last one
  (``actual_estimator``) of a family in :data:`ESTIMATORS`; the feature selector's fitted ``estimator_`` has
  the class of its configured ``estimator``;
* column lists (``include``/``exclude``, ``_feature_names_in``, ``drop_``) are unique subsets of the dataset's
  columns (the API's feature vocabulary and the target).

For every estimator in the graph (wherever it is):

* its state holds every parameter of its class's constructor (scikit-learn's methods read them all);
* ``classes_`` (and LightGBM's ``_classes``) is 1-D, sorted, unique and equal to the training labels (0, 1);
* ``feature_names_in_`` is a 1-D array of unique strings, subset of the known columns, ``n_features_in_`` long;
* ensembles hold ``estimators_`` of their member class and declared length, and their trees read only
  ``n_features_in_`` columns; a ``Booster``'s model string names the features its classifier (and the
  feature selector holding it) was fitted on.

Refusals are :class:`~diabetes_risk_model.errors.UnsafeModelState` naming the path and the rule.
"""

from __future__ import annotations

from typing import Any

from diabetes_risk_model.errors import UnsafeModelState
from diabetes_risk_model.unpickling._graph import Inventory
from diabetes_risk_model.unpickling._state_lightgbm import BoosterFacts

_WRAPPER = "pycaret.internal.preprocess.transformers.TransformerWrapper"
STEPS: tuple[tuple[str, str, str], ...] = (
    ("numerical_imputer", _WRAPPER, "sklearn.impute._base.SimpleImputer"),
    ("categorical_imputer", _WRAPPER, "sklearn.impute._base.SimpleImputer"),
    ("remove_multicollinearity", _WRAPPER, "pycaret.internal.preprocess.transformers.RemoveMulticollinearity"),
    ("remove_outliers", _WRAPPER, "pycaret.internal.preprocess.transformers.RemoveOutliers"),
    ("normalize", _WRAPPER, "sklearn.preprocessing._data.StandardScaler"),
    ("feature_selection", _WRAPPER, "sklearn.feature_selection._from_model.SelectFromModel"),
)
"""The preprocessing steps ``training.pipeline.setup_experiment`` configures, in order."""

ESTIMATORS: frozenset[str] = frozenset(
    {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.neighbors._classification.KNeighborsClassifier",
        "sklearn.naive_bayes.GaussianNB",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.linear_model._stochastic_gradient.SGDClassifier",
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis",
        "sklearn.ensemble._weight_boosting.AdaBoostClassifier",
        "sklearn.ensemble._gb.GradientBoostingClassifier",
        "sklearn.discriminant_analysis.LinearDiscriminantAnalysis",
        "sklearn.ensemble._forest.ExtraTreesClassifier",
        "lightgbm.sklearn.LGBMClassifier",
        "sklearn.dummy.DummyClassifier",
    }
)
"""The ``actual_estimator`` families ``compare_models`` can pick in this project's training."""

MEMBERS: dict[str, str] = {
    "sklearn.ensemble._gb.GradientBoostingClassifier": "sklearn.tree._classes.DecisionTreeRegressor",
    "sklearn.ensemble._forest.RandomForestClassifier": "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.ensemble._forest.ExtraTreesClassifier": "sklearn.tree._classes.ExtraTreeClassifier",
    "sklearn.ensemble._iforest.IsolationForest": "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.ensemble._weight_boosting.AdaBoostClassifier": "sklearn.tree._classes.DecisionTreeClassifier",
}
"""The class of every member of an ensemble's ``estimators_``."""

TRAINING_LABELS = (0, 1)
"""The labels of the target training uses (``Diabetes``: 0 or 1)."""

_COLUMN_LISTS = ("include", "exclude", "_include", "_exclude", "_feature_names_in", "drop_")


def _name(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _require(condition: Any, path: str, rule: str) -> None:
    if not condition:
        raise UnsafeModelState(path, rule)


def known_columns() -> frozenset[str]:
    """The dataset's columns: the API's feature vocabulary and the training target."""
    from diabetes_risk_model.prediction.schemas import FEATURE_COLUMNS
    from diabetes_risk_model.training.params import TARGET

    return frozenset(FEATURE_COLUMNS) | {TARGET}


def _check_columns(values: Any, path: str, known: frozenset[str]) -> None:
    ok = type(values) is list and all(type(value) is str for value in values)
    _require(ok and len(set(values)) == len(values), path, "a list of unique column names")
    _require(set(values) <= known, path, "columns of the training data only")


def _check_pipeline(root: Any, known: frozenset[str], boosters: dict[int, BoosterFacts]) -> None:
    steps: Any = root.__dict__.get("steps")
    ok = type(steps) is list and all(type(step) is tuple and len(step) == 2 for step in steps)
    _require(ok and len(steps) == len(STEPS) + 1, "model.steps", f"{len(STEPS) + 1} (name, step) pairs")
    for index, ((name, step), expected) in enumerate(zip(steps, (*STEPS, None), strict=True)):
        path = f"model.steps[{index}]"
        if expected is None:
            _require(name == "actual_estimator" and _name(step) in ESTIMATORS, path, "a reviewed estimator family")
            continue
        _require(name == expected[0], path, f"the step training puts here is {expected[0]}")
        _require(_name(step) == expected[1], path, f"a {expected[1]}")
        inner = getattr(step, "transformer", None)
        _require(_name(inner) == expected[2], path + ".transformer", f"a {expected[2]}")
        for field in _COLUMN_LISTS:
            value = step.__dict__.get(field)
            if value is not None:
                _check_columns(value, f"{path}.{field}", known)
        drop = inner.__dict__.get("drop_")
        if drop is not None:
            _check_columns(drop, path + ".transformer.drop_", known)
        if name == "feature_selection":
            configured, fitted = inner.__dict__.get("estimator"), inner.__dict__.get("estimator_")
            _require(type(fitted) is type(configured), path + ".transformer.estimator_", "the configured class")
            facts = boosters.get(id(fitted.__dict__.get("_Booster")))
            names = inner.__dict__.get("feature_names_in_")
            if facts is not None and names is not None:
                ok = tuple(names.tolist()) == facts.feature_names
                _require(ok, path + ".transformer.estimator_._Booster", "the features it was fitted on")
        if name == "remove_outliers":
            _require(_name(inner.__dict__.get("_estimator")) == "sklearn.ensemble._iforest.IsolationForest",
                     path + ".transformer._estimator", "an IsolationForest")  # fmt: skip
    fitted_columns = root.__dict__.get("_feature_names_in")
    if fitted_columns is not None:
        _check_columns(fitted_columns, "model._feature_names_in", known)


def _check_labels(labels: Any, path: str) -> None:
    import numpy as np

    ok = type(labels) is np.ndarray and labels.ndim == 1 and labels.dtype.kind in "iuf"
    _require(ok, path, "a 1-D numeric array")
    _require(labels.tolist() == list(TRAINING_LABELS), path, f"sorted, unique and equal to {TRAINING_LABELS}")


def _check_feature_names(state: dict[str, Any], path: str, known: frozenset[str]) -> None:
    import numpy as np

    names = state["feature_names_in_"]
    ok = type(names) is np.ndarray and names.ndim == 1 and names.dtype.kind in "OU"
    _require(ok and all(type(name) is str for name in names.tolist()), path + ".feature_names_in_", "strings")
    listed = names.tolist()
    _require(len(set(listed)) == len(listed) and set(listed) <= known, path + ".feature_names_in_", "known, unique")
    count = state.get("n_features_in_")
    _require(count is None or count == len(listed), path + ".n_features_in_", "len(feature_names_in_)")


def _check_members(obj: Any, state: dict[str, Any], path: str) -> None:
    import numpy as np

    members = state.get("estimators_")
    if members is None or _name(obj) not in MEMBERS:
        return
    items = members.ravel().tolist() if type(members) is np.ndarray else members
    _require(type(items) is list, path + ".estimators_", "a list or object array")
    declared = state.get("n_estimators_", state.get("n_estimators"))
    if _name(obj) == "sklearn.ensemble._gb.GradientBoostingClassifier":
        shape = (declared, state.get("n_trees_per_iteration_"))
        _require(type(members) is np.ndarray and members.shape == shape, path + ".estimators_", f"shape {shape}")
    elif _name(obj) == "sklearn.ensemble._weight_boosting.AdaBoostClassifier":
        _require(type(declared) is int and len(items) <= declared, path + ".estimators_", "at most n_estimators")
    else:
        _require(len(items) == declared, path + ".estimators_", f"{declared} members")
    width = state.get("n_features_in_")
    for index, member in enumerate(items):
        _require(_name(member) == MEMBERS[_name(obj)], f"{path}.estimators_[{index}]", MEMBERS[_name(obj)])
        tree = getattr(member, "tree_", None)
        if _name(obj) != "sklearn.ensemble._iforest.IsolationForest":
            _require(tree is not None and tree.n_features == width, f"{path}.estimators_[{index}].tree_", "width")


_UNSTORED_PARAMETERS = {"pycaret.internal.pipeline.Pipeline": {"memory"}}  # pycaret keeps it as `_memory`


def _check_parameters(obj: Any, state: dict[str, Any], path: str) -> None:
    """An estimator holds every parameter of its constructor, as scikit-learn's conventions (and methods) need."""
    from sklearn.base import BaseEstimator

    if isinstance(obj, BaseEstimator):
        expected = set(type(obj)._get_param_names()) - _UNSTORED_PARAMETERS.get(_name(obj), set())
        missing = sorted(expected - state.keys())
        _require(not missing, path, f"every constructor parameter set (missing {', '.join(missing)})")


def _check_booster(state: dict[str, Any], path: str, boosters: dict[int, BoosterFacts]) -> None:
    booster = state.get("_Booster")
    if booster is None:
        return
    facts = boosters.get(id(booster))
    _require(facts is not None, path + "._Booster", "a model string checked while loading")
    assert facts is not None
    _require(state.get("_n_features") == len(facts.feature_names), path + "._n_features", "the booster's features")
    names = state.get("feature_names_in_")
    if names is not None:
        _require(tuple(names.tolist()) == facts.feature_names, path + "._Booster", "the features it was fitted on")


def check_wiring(root: Any, inventory: Inventory, boosters: dict[int, BoosterFacts]) -> None:
    """Raise :class:`UnsafeModelState` unless the loaded graph is wired as training wires it (see above)."""
    known = known_columns()
    if _name(root) == "pycaret.internal.pipeline.Pipeline":
        _check_pipeline(root, known, boosters)
    for obj, node in inventory.instances:
        state = getattr(obj, "__dict__", None)
        if type(state) is not dict:
            continue
        path = inventory.path(node)
        _check_parameters(obj, state, path)
        for field in ("classes_", "_classes"):
            if state.get(field) is not None:
                _check_labels(state[field], f"{path}.{field}")
        if "feature_names_in_" in state:
            _check_feature_names(state, path, known)
        _check_members(obj, state, path)
        if _name(obj) == "lightgbm.sklearn.LGBMClassifier":
            _check_booster(state, path, boosters)
