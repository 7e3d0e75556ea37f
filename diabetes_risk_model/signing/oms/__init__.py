"""The generic OpenSSF Model Signing (OMS) format: sigstore bundle + DSSE, the in-toto statement, file hashing,
and ``verify-oms`` over any model file or directory. Knows nothing of our package zip.
"""

from diabetes_risk_model.signing.oms._bundle import Bundle, canonical_json, pae, pae_compat
from diabetes_risk_model.signing.oms._files import hash_model, relative_ignores
from diabetes_risk_model.signing.oms._statement import (
    PREDICATE_TYPE,
    PREDICATE_TYPE_COMPAT,
    SERIALIZATION,
    SINGLE_FILE,
    Resource,
    Statement,
    parse_statement,
    statement_json,
    subject_digest,
)
from diabetes_risk_model.signing.oms._verify import OmsResult, verify_bundle, verify_model

__all__ = [
    "PREDICATE_TYPE",
    "PREDICATE_TYPE_COMPAT",
    "SERIALIZATION",
    "SINGLE_FILE",
    "Bundle",
    "OmsResult",
    "Resource",
    "Statement",
    "canonical_json",
    "hash_model",
    "pae",
    "pae_compat",
    "parse_statement",
    "relative_ignores",
    "statement_json",
    "subject_digest",
    "verify_bundle",
    "verify_model",
]
