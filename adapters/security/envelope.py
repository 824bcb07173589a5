"""Hybrid encryption of whole files: AES-256-GCM, the key wrapped with RSA-OAEP-SHA256.

Envelope format, version 1 (all integers big-endian)::

    offset  size  field
    0       8     magic  b"HZENVLP1"
    8       1     version, 0x01
    9       32    recipient key id: SHA-256 of the recipient's DER SubjectPublicKeyInfo
    41      2     length W of the wrapped key (the recipient's RSA modulus size in bytes)
    43      W     the 32-byte AES key, encrypted with RSA-OAEP (MGF1-SHA256, SHA-256, no label)
    43+W    12    AES-GCM nonce
    55+W    rest  ciphertext followed by the 16-byte GCM tag

Everything before the ciphertext is authenticated as associated data, so no header byte
can be changed unnoticed. A fresh key and nonce are drawn for every file.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.security.errors import (
    EnvelopeFormatError,
    EnvelopeIntegrityError,
    KeyLoadError,
    WrongRecipientError,
)
from adapters.security.keys import public_key_id

MAGIC = b"HZENVLP1"
VERSION = 1
_KEY_ID_SIZE = 32
_NONCE_SIZE = 12
_TAG_SIZE = 16
_FIXED = len(MAGIC) + 1 + _KEY_ID_SIZE + 2
_MIN_RSA_BITS = 2048


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def is_envelope(data: bytes) -> bool:
    return data.startswith(MAGIC)


def seal(data: bytes, recipient: rsa.RSAPublicKey) -> bytes:
    """Encrypt ``data`` so that only the holder of ``recipient``'s private key can read it."""
    if recipient.key_size < _MIN_RSA_BITS:
        raise KeyLoadError(
            f"RSA 密钥过短 the recipient key has {recipient.key_size} bits; "
            f"at least {_MIN_RSA_BITS} are required"
        )
    key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE_SIZE)
    wrapped = recipient.encrypt(key, _oaep())
    header = (
        MAGIC
        + bytes([VERSION])
        + public_key_id(recipient)
        + struct.pack(">H", len(wrapped))
        + wrapped
        + nonce
    )
    return header + AESGCM(key).encrypt(nonce, data, header)


def open_envelope(envelope: bytes, private_key: rsa.RSAPrivateKey, *, name: str = "file") -> bytes:
    """Decrypt an envelope addressed to ``private_key``; refuse anything else clearly."""
    if not envelope.startswith(MAGIC):
        if len(envelope) < len(MAGIC) and MAGIC.startswith(envelope):
            raise EnvelopeFormatError(f"加密文件被截断 {name} is truncated inside its header")
        raise EnvelopeFormatError(
            f"不是加密信封 {name} is not an encrypted envelope (no {MAGIC.decode()} header)"
        )
    if len(envelope) < _FIXED:
        raise EnvelopeFormatError(f"加密文件被截断 {name} is truncated inside its header")
    version = envelope[len(MAGIC)]
    if version != VERSION:
        raise EnvelopeFormatError(
            f"加密信封版本不支持 {name} uses envelope version {version}; only {VERSION} is known"
        )
    offset = len(MAGIC) + 1
    key_id = envelope[offset : offset + _KEY_ID_SIZE]
    ours = public_key_id(private_key.public_key())
    if key_id != ours:
        raise WrongRecipientError(
            f"收件密钥不符 {name} was encrypted to key {key_id.hex()[:16]}…, "
            f"not to ours {ours.hex()[:16]}…"
        )
    offset += _KEY_ID_SIZE
    (wrapped_size,) = struct.unpack(">H", envelope[offset : offset + 2])
    offset += 2
    expected_size = (private_key.key_size + 7) // 8
    if wrapped_size != expected_size:
        raise EnvelopeFormatError(
            f"加密信封格式错误 {name} declares a {wrapped_size}-byte wrapped key; "
            f"our key wraps to {expected_size} bytes"
        )
    body_start = offset + wrapped_size + _NONCE_SIZE
    if len(envelope) < body_start + _TAG_SIZE:
        raise EnvelopeFormatError(f"加密文件被截断 {name} is truncated before its ciphertext")
    wrapped = envelope[offset : offset + wrapped_size]
    nonce = envelope[offset + wrapped_size : body_start]
    try:
        key = private_key.decrypt(wrapped, _oaep())
    except ValueError:
        raise EnvelopeIntegrityError(
            f"加密文件已损坏 {name}: its wrapped key cannot be unwrapped with our key"
        ) from None
    if len(key) != 32:
        raise EnvelopeIntegrityError(f"加密文件已损坏 {name}: the wrapped key is not 32 bytes")
    try:
        return AESGCM(key).decrypt(nonce, envelope[body_start:], envelope[:body_start])
    except InvalidTag:
        raise EnvelopeIntegrityError(
            f"加密文件校验失败 {name} failed authentication: its content was modified or truncated"
        ) from None
