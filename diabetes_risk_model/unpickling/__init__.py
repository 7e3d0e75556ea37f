"""Restricted unpickling of verified bytes: an exact allow-list of names, reviewed reconstructors, stream
limits, and a check of the whole object graph before anything is returned.

Callers hand it the bytes a package verifier hashed (:attr:`diabetes_risk_model.signing.VerifiedPackage.model_bytes`);
nothing here reads files or knows about signatures.
"""

from diabetes_risk_model.unpickling._load import restricted_loads
from diabetes_risk_model.unpickling._policy import ALLOWED_NAMES, GRAPH_CALLABLES, LOADED_TYPES, PickleLimits

__all__ = ["ALLOWED_NAMES", "GRAPH_CALLABLES", "LOADED_TYPES", "PickleLimits", "restricted_loads"]
