"""Prediction: the service-facing half of the story (load → verify → unpickle → predict).

``schemas`` is the public vocabulary; ``model`` is the :class:`ml_base.MLModel`
that rest_model_service hosts. Importing this package does no I/O.
"""

from diabetes_risk_model.prediction.schemas import (
    Age,
    DiabetesRisk,
    DiabetesRiskModelInput,
    DiabetesRiskModelOutput,
    GeneralHealth,
    Income,
)

__all__ = [
    "Age",
    "DiabetesRisk",
    "DiabetesRiskModelInput",
    "DiabetesRiskModelOutput",
    "GeneralHealth",
    "Income",
]
