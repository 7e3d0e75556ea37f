"""Tests of diabetes_risk_model.signing.package."""
