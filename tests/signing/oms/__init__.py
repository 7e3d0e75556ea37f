"""Tests of diabetes_risk_model.signing.oms."""
