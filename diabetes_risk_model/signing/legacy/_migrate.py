"""Convert an itsdangerous-format package (``signed_model.pkl``) into ours: verify its one signature, then sign
the pickle anew.

Only the signed pickle bytes move: the unsigned members beside it (``model.pkl``, ``data_report.html``, ...)
are left behind, since nothing proves who wrote them. The name, version and parameters version are the
caller's (by default those of the file name, which were never signed); the sequence defaults to 0, as the
old format had none, so a migrated package never outranks one built since.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from diabetes_risk_model.errors import ConfigurationError, DigestMismatch
from diabetes_risk_model.signing.keys import Keyring
from diabetes_risk_model.signing.legacy._verify import LegacyPackage, verify_legacy_package
from diabetes_risk_model.signing.package import DEFAULT_LIMITS, Limits, build_package, verify_package


def migrate_package(
    path: Path,
    secret: str | bytes,
    keyring: Keyring,
    output_dir: Path,
    *,
    name: str | None = None,
    version: str | None = None,
    parameters_version: str | None = None,
    sequence: int = 0,
    created: datetime | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[LegacyPackage, Path]:
    """Verify the legacy package at *path* under *secret*, then write ours (signed by the keyring's newest key)
    into *output_dir*; returns the verified legacy package and the new package's path.

    The new package is verified with the keyring before returning, and its pickle must be byte for byte the
    one the old signature covered (:class:`DigestMismatch` otherwise).
    """
    legacy = verify_legacy_package(path, secret, limits=limits)
    found = legacy.manifest
    name, version = name or found.name, version or found.version
    parameters_version = parameters_version or found.parameters_version
    bindings = {"name": name, "version": version, "parameters_version": parameters_version}
    unknown = [field for field, value in bindings.items() if value == "unknown"]
    if unknown:
        raise ConfigurationError("the file name does not say the package's " + ", ".join(unknown) + ": give them")
    with tempfile.TemporaryDirectory(prefix="drm-migrate-") as tmp:
        pickle_file = Path(tmp) / "model.pkl"
        pickle_file.write_bytes(legacy.model_bytes)
        target = build_package(
            Path(output_dir),
            model_pickle=pickle_file,
            extra_members={},
            keyring=keyring,
            sequence=sequence,
            requirements={},
            created=created,
            limits=limits,
            name=name,
            version=version,
            parameters_version=parameters_version,
        )
    migrated = verify_package(target, keyring.public(), limits=limits)
    if migrated.model_bytes != legacy.model_bytes:
        raise DigestMismatch("model.pkl", "sha256 (changed while migrating)")
    return legacy, target
