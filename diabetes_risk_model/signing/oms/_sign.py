"""Sign any model file or directory as an OMS v1.0 bundle (``sign-oms key|certificate``).

What is written follows spec v1.0 §6: every regular file (symbolic links refused, ``.git*`` at the top
level ignored unless asked otherwise, the user's ignore paths and the signature file itself excluded), at
least one file, resources sorted by name, a single file named by its file name, ``subject[0].name`` the
model path's basename, the root digest of §6.5.1, the excluded paths recorded in
``serialization.ignore_paths``. The bundle names the key by ``publicKey.hint`` (``key``) or carries the
signing certificate and its chain as DER (``certificate``, spec §4.1); ``keyid`` is empty. The ECDSA
signature is deterministic and low-S (:func:`diabetes_risk_model.signing.keys.ec.sign`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from diabetes_risk_model.errors import ConfigurationError, EmptyModel
from diabetes_risk_model.files import atomic_writer
from diabetes_risk_model.signing.keys import ec
from diabetes_risk_model.signing.oms._bundle import Bundle, canonical_json, pae
from diabetes_risk_model.signing.oms._certificates import load_pem_certificates
from diabetes_risk_model.signing.oms._files import GIT_PATHS, hash_model, model_name, relative_ignores
from diabetes_risk_model.signing.oms._statement import SINGLE_FILE, Resource, parse_statement, statement_json


@dataclass(frozen=True, repr=False)
class OmsSigner:
    """An ECDSA private key and, for the ``certificate`` method, its certificate and the chain (CA first
    above it). Never printed."""

    private: _ec.EllipticCurvePrivateKey
    certificate: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        ec.alg_of(self.private.public_key())
        if self.certificate is not None and self.certificate.public_key() != self.private.public_key():
            raise ConfigurationError("the signing certificate's public key does not match the private key")
        if self.chain and self.certificate is None:
            raise ConfigurationError("a certificate chain needs a signing certificate")

    def __repr__(self) -> str:
        return f"OmsSigner(method={'certificate' if self.certificate is not None else 'key'!r})"

    @classmethod
    def from_pem(
        cls, private_pem: bytes, certificate_pem: bytes | None = None, chain_pems: Sequence[bytes] = ()
    ) -> OmsSigner:
        """From PEM files as ``model_signing sign`` takes them; :class:`ConfigurationError` on anything else."""
        try:
            private = load_pem_private_key(private_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigurationError("private key file is not an unencrypted PEM private key") from None
        if not isinstance(private, _ec.EllipticCurvePrivateKey):
            raise ConfigurationError("private key is not an elliptic-curve key (OMS signs with ECDSA)")
        certificate = None
        if certificate_pem is not None:
            certificate = load_pem_certificates(certificate_pem, "signing certificate")[0]
        chain = tuple(c for pem in chain_pems for c in load_pem_certificates(pem, "certificate chain"))
        return cls(private, certificate, chain)

    def bundle(self, payload: bytes) -> bytes:
        signature = ec.sign(self.private, pae(payload))
        if self.certificate is None:
            return Bundle(payload, signature, hint=ec.hint(self.private.public_key())).to_bytes()
        ders = tuple(c.public_bytes(Encoding.DER) for c in (self.certificate, *self.chain))
        return Bundle(payload, signature, certificates=ders).to_bytes()


def sign_model(
    model: Path,
    signature: Path,
    signer: OmsSigner,
    ignore_paths: Iterable[str | Path] = (),
    *,
    ignore_git_paths: bool = True,
    dot_single_file: bool = False,
) -> bytes:
    """Sign *model* and write the bundle to *signature* atomically; returns the bundle bytes.

    ``dot_single_file=True`` names a single-file model's resource ``.`` instead of its file name: what
    model-signing (1.1.1 and earlier) writes and, when verifying a single file, requires; it breaks spec
    §6.1.2 rule 5, so it is off unless asked for.

    :class:`EmptyModel` if no file is left to sign; symbolic links and non-UTF-8 names are refused
    (:class:`~diabetes_risk_model.errors.UnsafeResourceName`).
    """
    model, signature = Path(model), Path(signature)
    ignored: list[PurePosixPath] = relative_ignores(model, [*ignore_paths, signature]) if model.is_dir() else []
    digests = hash_model(model, ignored, git_paths=ignore_git_paths)
    if not digests:
        raise EmptyModel("the model has no regular file to sign once ignored paths are excluded")
    if dot_single_file and model.is_file():
        digests = {SINGLE_FILE: next(iter(digests.values()))}
    recorded = [*(GIT_PATHS if ignore_git_paths else ()), *(str(p) for p in ignored if str(p) not in ("", "."))]
    statement = statement_json(model_name(model), [Resource(n, d) for n, d in digests.items()], ignore_paths=recorded)
    payload = canonical_json(statement)
    parse_statement(payload)  # never sign what a verifier would refuse
    data = signer.bundle(payload)
    with atomic_writer(signature) as out:
        out.write(data)
    return data
