"""The itsdangerous package format (``signed_model.pkl``, an HMAC-SHA1 signature over the pickle only): verify it,
or migrate it into ours.

Its HMAC key is needed only here, by the command line; the service never reads this format.
"""

from diabetes_risk_model.signing.legacy._migrate import migrate_package
from diabetes_risk_model.signing.legacy._verify import (
    LEGACY_ALG,
    LEGACY_KEY_ID,
    LEGACY_MEMBER,
    LegacyManifest,
    LegacyPackage,
    is_legacy_package,
    list_legacy,
    verify_legacy_package,
)

__all__ = [
    "LEGACY_ALG",
    "LEGACY_KEY_ID",
    "LEGACY_MEMBER",
    "LegacyManifest",
    "LegacyPackage",
    "is_legacy_package",
    "list_legacy",
    "migrate_package",
    "verify_legacy_package",
]
