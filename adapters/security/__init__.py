"""File security: detached signatures and hybrid encryption of bank files."""

from adapters.security.envelope import is_envelope, open_envelope, seal
from adapters.security.errors import (
    DecryptionError,
    EnvelopeFormatError,
    EnvelopeIntegrityError,
    KeyLoadError,
    SecurityError,
    SignatureError,
    SignatureInvalidError,
    SignatureMissingError,
    WrongRecipientError,
)
from adapters.security.files import FileSecurity, ProtectedFile
from adapters.security.keys import load_private_key, load_public_key
from adapters.security.signing import SIGNATURE_SUFFIX, SignatureAlgorithm, Signer, Verifier

__all__ = [
    "SIGNATURE_SUFFIX",
    "DecryptionError",
    "EnvelopeFormatError",
    "EnvelopeIntegrityError",
    "FileSecurity",
    "KeyLoadError",
    "ProtectedFile",
    "SecurityError",
    "SignatureAlgorithm",
    "SignatureError",
    "SignatureInvalidError",
    "SignatureMissingError",
    "Signer",
    "Verifier",
    "WrongRecipientError",
    "is_envelope",
    "load_private_key",
    "load_public_key",
    "open_envelope",
    "seal",
]
