"""Entry point for ``python -m diabetes_risk_model.training`` (see :mod:`.cli`)."""

import sys

from diabetes_risk_model.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
