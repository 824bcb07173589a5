"""The file-security error hierarchy.

Messages name the file, the key's path and what is wrong; never a key, a passphrase or
any byte of key material.
"""

from __future__ import annotations

from adapters.errors import AdapterError


class SecurityError(AdapterError):
    """Base of every signing, verification, encryption and key error."""


class KeyLoadError(SecurityError):
    """A configured key cannot be read, decrypted or is of the wrong kind."""


class SignatureError(SecurityError):
    """An inbound file's signature does not prove it came unaltered from the bank."""


class SignatureMissingError(SignatureError):
    """The bank signs its files but this one came without a signature."""


class SignatureInvalidError(SignatureError):
    """The signature does not match the file (tampered, or signed with another key)."""


class DecryptionError(SecurityError):
    """An encrypted file cannot be opened."""


class EnvelopeFormatError(DecryptionError):
    """Not an encrypted envelope, an unsupported version, or truncated."""


class WrongRecipientError(DecryptionError):
    """The file was encrypted to another key than ours."""


class EnvelopeIntegrityError(DecryptionError):
    """The ciphertext or its header was modified: authentication failed."""
