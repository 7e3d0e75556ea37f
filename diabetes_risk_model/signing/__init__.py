"""Signed model packages: bytes and files in, a verdict out. Nothing here unpickles or touches the network.

:mod:`.keys` (ECDSA keys, the keyring), :mod:`.oms` (the generic OpenSSF Model Signing format),
:mod:`.package` (our package: canonical zip, bindings, build, verify, rotate), :mod:`.legacy` (the original
itsdangerous format: verify, migrate into ours). A verified package hands back the exact pickle bytes it
hashed (:attr:`VerifiedPackage.model_bytes`); :mod:`diabetes_risk_model.unpickling` turns them into objects.
The format is described in ``docs/FORMAT.md``.
"""

from diabetes_risk_model.signing.keys import Key, Keyring
from diabetes_risk_model.signing.legacy import LegacyPackage, is_legacy_package, migrate_package, verify_legacy_package
from diabetes_risk_model.signing.oms import CertificateTrust
from diabetes_risk_model.signing.package import (
    DEFAULT_LIMITS,
    MODEL_MEMBER,
    SIGNATURE_NAME,
    Expectation,
    Limits,
    Manifest,
    MemberEntry,
    MemberStatus,
    VerifiedPackage,
    build_package,
    package_file_name,
    rotate_package,
    verify_package,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MODEL_MEMBER",
    "SIGNATURE_NAME",
    "CertificateTrust",
    "Expectation",
    "Key",
    "Keyring",
    "LegacyPackage",
    "Limits",
    "Manifest",
    "MemberEntry",
    "MemberStatus",
    "VerifiedPackage",
    "build_package",
    "is_legacy_package",
    "migrate_package",
    "package_file_name",
    "rotate_package",
    "verify_legacy_package",
    "verify_package",
]
