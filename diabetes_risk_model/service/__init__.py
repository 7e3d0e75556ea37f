"""The HTTP service: rest_model_service's parts, declared into one FastAPI app.

``diabetes_risk_model.service.app:app`` is what uvicorn runs; :mod:`diabetes_risk_model.service.app` says what
the app is. Importing this package does not build the app or read any file.
"""

from diabetes_risk_model.service._metrics import METRICS_PATH, ServiceMetrics
from diabetes_risk_model.service._settings import ServiceSettings, load_configuration
from diabetes_risk_model.service.app import create_service

__all__ = ["METRICS_PATH", "ServiceMetrics", "ServiceSettings", "create_service", "load_configuration"]
