"""Training: data → profile → pycaret experiment → plots → metrics → pickle → signed package → store.

One small module per step (``data``, ``profile``, ``pipeline``, ``metrics``, ``faithful``, ``package``,
``publish``), chained by ``run`` for the CLI and called one by one by the notebook. Importing this package
imports neither pycaret nor sweetviz (each takes seconds); the step functions do, when called.
"""

from diabetes_risk_model.training.params import FAST, FULL, TrainingParams, params_for

__all__ = ["FAST", "FULL", "TrainingParams", "params_for"]
