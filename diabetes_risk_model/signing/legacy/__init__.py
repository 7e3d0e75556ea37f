"""The original design's itsdangerous package (``signed_model.pkl``): verified for compatibility only."""

from diabetes_risk_model.signing.legacy._verify import (
    LEGACY_ALG,
    LEGACY_MEMBER,
    LegacyManifest,
    list_legacy,
    verify_legacy,
)

__all__ = ["LEGACY_ALG", "LEGACY_MEMBER", "LegacyManifest", "list_legacy", "verify_legacy"]
