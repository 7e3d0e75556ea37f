"""The HTTP service: rest_model_service as the engine, with our fixes around it.

``diabetes_risk_model.service.app:app`` is what uvicorn runs; see
:mod:`diabetes_risk_model.service.app` for what the wrapper changes and why.
Importing this package does not build the app or read any file.
"""

from diabetes_risk_model.service.app import create_service, load_configuration

__all__ = ["create_service", "load_configuration"]
