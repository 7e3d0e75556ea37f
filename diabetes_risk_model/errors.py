"""Every exception this package raises on purpose.

One root, :class:`DiabetesRiskModelError`, so a caller can catch "anything
this package refused" in one place, and one branch per stage of the story
(configuration, data, storage, verification). Each exception carries its
context as attributes (the member, the field, the expected and found value)
so callers and log lines never need to parse messages.

Messages never contain key material or unverified bytes: only names that
the package itself chose (member names after they passed the archive name
checks, field names, key ids) and lengths.
"""

from __future__ import annotations

from typing import Any


class DiabetesRiskModelError(Exception):
    """Root of every error raised by this package on purpose."""

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def __str__(self) -> str:
        return self.message


# -- configuration -----------------------------------------------------------


class ConfigurationError(DiabetesRiskModelError):
    """A setting is missing or malformed (never contains the setting's value)."""


class MissingEnvironmentVariable(ConfigurationError):
    """A `${NAME}` placeholder or a required variable is not set."""

    def __init__(self, name: str, purpose: str = "") -> None:
        detail = f" ({purpose})" if purpose else ""
        super().__init__(f"environment variable {name} is not set{detail}", name=name)
        self.name = name


class MissingRuntimeDependency(ConfigurationError):
    """This environment cannot import a module the service or an admitted pickle needs (the image is incomplete)."""

    def __init__(self, module: str, reason: str) -> None:
        super().__init__(f"cannot import {module}: {reason}", module=module)
        self.module = module


# -- training data -----------------------------------------------------------


class DataError(DiabetesRiskModelError):
    """The training data could not be found or does not have the expected shape."""


class DataNotFound(DataError):
    """Neither a local CSV nor Kaggle credentials are available."""


class SchemaMismatch(DataError):
    """Columns are missing or unexpected."""

    def __init__(self, missing: list[str], unexpected: list[str]) -> None:
        parts = []
        if missing:
            parts.append("missing columns: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected columns: " + ", ".join(unexpected))
        super().__init__("; ".join(parts), missing=missing, unexpected=unexpected)
        self.missing = missing
        self.unexpected = unexpected


class TrainingError(DataError):
    """A training step could not produce what the next step needs (no model trained, a plot not written)."""


# -- storage -----------------------------------------------------------------


class StorageError(DiabetesRiskModelError):
    """The model store refused or failed an operation."""


class StorageUnavailable(StorageError):
    """The store cannot be reached right now; retrying may help."""


class StorageAccessDenied(StorageError):
    """The store answered but refused the credentials; retrying will not help."""


class BucketNotFound(StorageError):
    """The bucket does not exist."""


class ObjectNotFound(StorageError):
    """The bucket exists but the object does not."""


# -- verification ------------------------------------------------------------


class VerificationError(DiabetesRiskModelError):
    """A package, manifest or pickle was refused. Like itsdangerous' BadData."""


class BadSignature(VerificationError):
    """The signature does not match the signed bytes under the named key."""


class UnknownKey(VerificationError):
    """The manifest names a key id the keyring does not hold."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"unknown key id {key_id!r}", key_id=key_id)
        self.key_id = key_id


class RetiredKey(VerificationError):
    """The manifest names a key that has been retired."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key {key_id!r} is retired", key_id=key_id)
        self.key_id = key_id


class UnsafeArchive(VerificationError):
    """The zip is malformed, not canonical, or over a safety limit."""


class MemberSetMismatch(VerificationError):
    """The archive's members are not exactly the manifest's members."""

    def __init__(self, missing: list[str], unexpected: list[str]) -> None:
        parts = []
        if missing:
            parts.append("missing members: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected members: " + ", ".join(unexpected))
        super().__init__("; ".join(parts), missing=missing, unexpected=unexpected)
        self.missing = missing
        self.unexpected = unexpected


class MissingMember(MemberSetMismatch):
    """A member listed in the manifest is not in the archive."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(missing, [])


class UnexpectedMember(MemberSetMismatch):
    """The archive holds a member the manifest does not list."""

    def __init__(self, unexpected: list[str]) -> None:
        super().__init__([], unexpected)


class DigestMismatch(VerificationError):
    """A member's bytes do not match the manifest's digest or size."""

    def __init__(self, member: str, what: str = "sha256") -> None:
        super().__init__(f"member {member!r}: {what} does not match the manifest", member=member)
        self.member = member


class BindingMismatch(VerificationError):
    """The manifest is valid but for another model, version or parameters version."""

    def __init__(self, field: str, expected: object, found: object) -> None:
        super().__init__(
            f"{field}: expected {expected!r}, found {found!r}",
            field=field,
            expected=expected,
            found=found,
        )
        self.field = field
        self.expected = expected
        self.found = found


class Expired(VerificationError):
    """The manifest's expiry time has passed."""


class Rollback(VerificationError):
    """The manifest's sequence number is below the configured minimum."""

    def __init__(self, sequence: int, minimum: int) -> None:
        super().__init__(
            f"sequence {sequence} is below the minimum {minimum} (rollback refused)",
            sequence=sequence,
            minimum=minimum,
        )
        self.sequence = sequence
        self.minimum = minimum


class UnsafePickle(VerificationError):
    """The pickle imports something outside the allow-list."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"pickle refers to {module}.{name}, which is not allowed", module=module, name=name)
        self.module = module
        self.name = name


class FeatureMismatch(VerificationError):
    """The pipeline's selected features are not the API's inputs (context: ``missing``, ``extra``)."""


class PickleRefused(VerificationError):
    """The pickle stream breaks the unpickling rule: a call, opcode or state it may not use, or bytes after STOP."""


class PickleLimitExceeded(PickleRefused):
    """The pickle stream is over a safety limit (nesting depth, memo entries, objects, time)."""


class UnsafeObjectGraph(VerificationError):
    """The loaded object holds a type, a callable or a cache setting outside the reviewed lists."""


class UnsafeModelState(VerificationError):
    """A model object's state breaks a rule native code relies on (``path``: the object, ``rule``: the rule).

    Raised before the state reaches the library that would trust it (a tree's node arrays, a LightGBM model
    string, an array's shape), or after loading when the pipeline's wiring or size is not what training produces.
    """

    def __init__(self, path: str, rule: str) -> None:
        super().__init__(f"model state at {path} refused: {rule}", path=path, rule=rule)
        self.path = path
        self.rule = rule


class UnsafeModel(VerificationError):
    """Loading the model in the sandbox crashed, hung, hit a limit or answered malformed output.

    ``limit`` is the limit reached (``memory``, ``cpu``, ``wall-clock``, ``output``) or empty; ``signal`` the
    signal that ended the child, if one did.
    """

    def __init__(self, message: str, *, limit: str, **context: Any) -> None:
        super().__init__(f"model refused by the sandbox: {message}", limit=limit, **context)
        self.limit = limit
        self.signal: str | None = context.get("signal")


# -- prediction --------------------------------------------------------------


class PredictionError(DiabetesRiskModelError):
    """A prediction request could not be served."""


class InvalidInferenceRequest(PredictionError):
    """A client's inference request is refused as a whole (a 4xx): nothing of it is answered.

    ``input`` names the tensor at fault and ``row`` (counting from 0) the element, when one is; ``status`` is
    the HTTP status to answer (400, or 413 for a body over the size limit).
    """

    def __init__(self, message: str, *, input: str | None = None, row: int | None = None, status: int = 400) -> None:
        super().__init__(message, input=input, row=row, status=status)
        self.input = input
        self.row = row
        self.status = status


# -- OpenSSF Model Signing (OMS) signatures -----------------------------------


class MalformedBundle(BadSignature):
    """A signature file is not a sigstore bundle / DSSE envelope / in-toto statement of the expected shape."""


class UnsupportedKey(BadSignature):
    """The public key is of a type or curve this verifier does not support, or does not fit the signature."""


class InconsistentStatement(BadSignature):
    """The signed statement's subject digest does not match its own resource list."""


class UnsafeResourceName(VerificationError):
    """A signed resource name is absolute, contains `..` or a backslash, or is duplicated."""


class EmptyModel(VerificationError):
    """A model to sign has no regular file once the ignored paths are excluded (OMS needs at least one)."""


# -- OMS certificate method ---------------------------------------------------------------------------------


class CertificateRefused(BadSignature):
    """A certificate bundle's signing certificate cannot be trusted for signing (see the subclasses)."""


class CertificateExpired(CertificateRefused):
    """The signing certificate's validity period ended before the verification time."""


class CertificateNotYetValid(CertificateRefused):
    """The signing certificate's validity period starts after the verification time."""


class CertificateUsageRefused(CertificateRefused):
    """The signing certificate is not for signing (keyUsage without digitalSignature, or no codeSigning EKU)."""


class UntrustedCertificate(CertificateRefused):
    """No certificate of the bundle is issued by a trusted CA certificate (trust anchor)."""


class CertificateChainInvalid(CertificateRefused):
    """The chain reaches a trusted CA but does not validate (wrong issuer, bad signature, CA rules, an expired CA)."""


class CertificateIdentityMismatch(CertificateRefused):
    """The signing certificate's subject and subjectAltNames do not include the required identity."""
