"""Signed model packages: build, verify, rotate, and load pickles only after verification.

Public interface (see CONTRACT.md): :class:`Keyring`, :class:`Expectation`, :func:`build_package`,
:func:`verify_package`, :class:`VerifiedPackage`. One module per concern: hashing, archive (canonical zip),
manifest, envelope (DSSE-style signature), keys, package (writing), verifier, legacy (the original
itsdangerous format), unpickler (restricted ``find_class``).
"""

from diabetes_risk_model.signing.keys import Key, Keyring
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
