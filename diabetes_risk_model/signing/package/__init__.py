"""Our package: a canonical zip whose last member, ``model.sig``, signs every other member and our bindings.

Strict zip reader (:mod:`._archive`), plain writer (:mod:`._zip_writer`), the signature and bindings
(:mod:`._bindings`), build and rotate (:mod:`._build`), verify (:mod:`._verify`), limits (:mod:`._limits`),
the signed manifest and the member names (:mod:`._manifest`). The format is described in ``docs/FORMAT.md``.
"""

from diabetes_risk_model.signing.package._bindings import FORMAT, Trust, unverified_claims
from diabetes_risk_model.signing.package._build import build_package, package_file_name, rotate_package
from diabetes_risk_model.signing.package._limits import DEFAULT_LIMITS, Limits
from diabetes_risk_model.signing.package._manifest import MODEL_MEMBER, SIGNATURE_NAME, Manifest, MemberEntry
from diabetes_risk_model.signing.package._verify import Expectation, MemberStatus, VerifiedPackage, verify_package

__all__ = [
    "DEFAULT_LIMITS",
    "FORMAT",
    "MODEL_MEMBER",
    "SIGNATURE_NAME",
    "Trust",
    "Expectation",
    "Limits",
    "Manifest",
    "MemberEntry",
    "MemberStatus",
    "VerifiedPackage",
    "build_package",
    "package_file_name",
    "rotate_package",
    "unverified_claims",
    "verify_package",
]
