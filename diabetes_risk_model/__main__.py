"""``python -m diabetes_risk_model``: see :mod:`diabetes_risk_model.cli`."""

from diabetes_risk_model.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
