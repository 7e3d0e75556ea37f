"""Tests of diabetes_risk_model.cli (the command line)."""
