"""The sandbox's own child with every Python check of the unpickler switched off (plain :func:`pickle.loads`).

What the sandbox alone must contain: the attack tests run signed pickles that crash or hang native code
through this child, and expect a clean refusal from :func:`diabetes_risk_model.prediction.sandbox.run_child`.
"""

import pickle
import sys

import diabetes_risk_model.unpickling
from diabetes_risk_model.prediction import _sandbox_child

if __name__ == "__main__":
    diabetes_risk_model.unpickling.restricted_loads = pickle.loads  # type: ignore[assignment]  # checks off
    _sandbox_child.main(sys.argv[1:])
