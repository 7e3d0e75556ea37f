"""Does the pipeline use exactly the API's inputs?

pycaret's feature selection keeps a few of the 21 columns. The API fills four (BMI, GeneralHealth, Age,
Income) and leaves the rest missing for the imputer, so a pipeline that selected another column answers the
same whatever a client sends for the API field it dropped. The final feature set is what the last step (the
estimator) was fitted on: its ``feature_names_in_`` (scikit-learn sets it whenever an estimator is fitted on a
DataFrame, and pycaret's transformers pass DataFrames along).
"""

from __future__ import annotations

from typing import Any

from diabetes_risk_model.errors import FeatureMismatch
from diabetes_risk_model.prediction.schemas import API_FEATURES


def selected_features(pipeline: Any) -> list[str]:
    """The columns the pipeline's final estimator was fitted on; :class:`FeatureMismatch` if it does not say."""
    steps = getattr(pipeline, "steps", None)
    final = steps[-1][1] if steps else pipeline
    names = getattr(final, "feature_names_in_", None)
    if names is None:
        raise FeatureMismatch(
            f"the pipeline's final step ({type(final).__name__}) does not record the features it was fitted on",
            missing=list(API_FEATURES),
            extra=[],
        )
    return [str(name) for name in names]


def feature_mismatch(selected: list[str]) -> FeatureMismatch | None:
    """The refusal to raise (or log) when the *selected* features (:func:`selected_features`) are not exactly
    the API's inputs, else None."""
    missing = [name for name in API_FEATURES if name not in selected]
    extra = [name for name in selected if name not in API_FEATURES]
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("extra " + ", ".join(extra))
    return FeatureMismatch(
        f"the pipeline's selected features are not the API's inputs ({', '.join(API_FEATURES)}): " + "; ".join(parts),
        missing=missing,
        extra=extra,
    )


__all__ = ["feature_mismatch", "selected_features"]
