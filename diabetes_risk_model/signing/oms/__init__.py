"""The generic OpenSSF Model Signing (OMS) v1.0 format: sigstore bundle + DSSE, the in-toto statement, file
hashing, ``sign-oms`` and ``verify-oms`` over any model file or directory, by key or by certificate.
Knows nothing of our package zip.
"""

from diabetes_risk_model.signing.oms._bundle import Bundle, canonical_json, pae, pae_compat
from diabetes_risk_model.signing.oms._certificates import CertificateTrust, identities, signing_public_key
from diabetes_risk_model.signing.oms._files import GIT_PATHS, hash_model, model_name, relative_ignores
from diabetes_risk_model.signing.oms._sign import OmsSigner, sign_model
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
from diabetes_risk_model.signing.oms._verify import OmsResult, check_signature, verify_bundle, verify_model

__all__ = [
    "GIT_PATHS",
    "PREDICATE_TYPE",
    "PREDICATE_TYPE_COMPAT",
    "SERIALIZATION",
    "SINGLE_FILE",
    "Bundle",
    "CertificateTrust",
    "OmsResult",
    "OmsSigner",
    "Resource",
    "Statement",
    "canonical_json",
    "check_signature",
    "hash_model",
    "identities",
    "model_name",
    "pae",
    "pae_compat",
    "parse_statement",
    "relative_ignores",
    "sign_model",
    "signing_public_key",
    "statement_json",
    "subject_digest",
    "verify_bundle",
    "verify_model",
]
