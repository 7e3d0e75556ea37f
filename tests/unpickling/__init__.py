"""Tests of diabetes_risk_model.unpickling."""
