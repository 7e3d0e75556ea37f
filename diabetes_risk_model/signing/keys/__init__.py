"""ECDSA keys (P-256 default, P-384, P-521) and the keyring: which key may sign, which may only verify, which
are retired.

:mod:`.ec` fixes how ECDSA is used (curve → hash, DER, low-S, the OMS key hint); :class:`Key` is one key with
its id; :class:`Keyring` holds keys by id, read from a file (``--keyring``) or ``MODEL_KEYRING``.
"""

from diabetes_risk_model.signing.keys import _ec as ec
from diabetes_risk_model.signing.keys._key import ALGORITHMS, ECDSA_P256, KEY_ID, Key
from diabetes_risk_model.signing.keys._keyring import ENV_KEYRING, Keyring, inside_git_work_tree

__all__ = ["ALGORITHMS", "ECDSA_P256", "ENV_KEYRING", "KEY_ID", "Key", "Keyring", "ec", "inside_git_work_tree"]
