"""Signed model packages: build, verify, rotate, and load pickles only after verification.

Public interface: :class:`Keyring`, :class:`Expectation`, :func:`build_package`, :func:`rotate_package`,
:func:`package_file_name`, :func:`verify_package`, :class:`VerifiedPackage`; the format is described in
``FORMAT.md`` beside this file. One module per concern: hashing, archive (canonical zip), keys and ec (ECDSA),
oms_bundle / oms_statement / oms_files / oms_verify (generic OpenSSF Model Signing verification),
oms_package (our ``model.sig``), manifest and envelope (the deprecated ``v1`` format), package (writing),
verifier, legacy (the original itsdangerous format), unpickler (exact allow-list, reviewed reconstructors,
stream limits, object-graph check).
"""

from diabetes_risk_model.signing.keyring import Keyring
from diabetes_risk_model.signing.keys import Key
from diabetes_risk_model.signing.limits import Limits
from diabetes_risk_model.signing.manifest import Manifest, MemberEntry
from diabetes_risk_model.signing.package import build_package, package_file_name, rotate_package
from diabetes_risk_model.signing.verifier import Expectation, MemberStatus, VerifiedPackage, verify_package

__all__ = [
    "Expectation",
    "Key",
    "Keyring",
    "Limits",
    "Manifest",
    "MemberEntry",
    "MemberStatus",
    "VerifiedPackage",
    "build_package",
    "package_file_name",
    "rotate_package",
    "verify_package",
]
