"""Detached signatures on files: Ed25519 and RSA-PSS-SHA256.

A signature file (``NAME.sig``) holds the base64 of the raw signature and a newline; it
signs the file's bytes exactly as they travel (after encryption, when the file is
encrypted), so a bank can check a file before opening it. RSA-PSS uses MGF1-SHA256 and a
salt as long as the digest (32 bytes) when signing, and accepts any salt length when
verifying.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from adapters.security.errors import KeyLoadError, SignatureInvalidError
from adapters.security.keys import PrivateKey, PublicKey, load_private_key, load_public_key

SIGNATURE_SUFFIX = ".sig"


class SignatureAlgorithm(enum.StrEnum):
    ED25519 = "ed25519"
    RSA_PSS_SHA256 = "rsa-pss-sha256"


def _sign_ed25519(key: PrivateKey, data: bytes) -> bytes:
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign(data)


def _verify_ed25519(key: PublicKey, signature: bytes, data: bytes) -> None:
    assert isinstance(key, ed25519.Ed25519PublicKey)
    key.verify(signature, data)


def _sign_rsa_pss(key: PrivateKey, data: bytes) -> bytes:
    assert isinstance(key, rsa.RSAPrivateKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    return key.sign(data, pss, hashes.SHA256())


def _verify_rsa_pss(key: PublicKey, signature: bytes, data: bytes) -> None:
    assert isinstance(key, rsa.RSAPublicKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    key.verify(signature, data, pss, hashes.SHA256())


@dataclass(frozen=True)
class SignatureScheme:
    """One signature algorithm: which keys it takes and how it signs and verifies."""

    algorithm: SignatureAlgorithm
    private_type: type
    public_type: type
    sign: Callable[[PrivateKey, bytes], bytes]
    verify: Callable[[PublicKey, bytes, bytes], None]
    min_rsa_bits: int = 0


SCHEMES: dict[SignatureAlgorithm, SignatureScheme] = {
    SignatureAlgorithm.ED25519: SignatureScheme(
        SignatureAlgorithm.ED25519,
        ed25519.Ed25519PrivateKey,
        ed25519.Ed25519PublicKey,
        _sign_ed25519,
        _verify_ed25519,
    ),
    SignatureAlgorithm.RSA_PSS_SHA256: SignatureScheme(
        SignatureAlgorithm.RSA_PSS_SHA256,
        rsa.RSAPrivateKey,
        rsa.RSAPublicKey,
        _sign_rsa_pss,
        _verify_rsa_pss,
        min_rsa_bits=2048,
    ),
}


def _check_key(scheme: SignatureScheme, key: PrivateKey | PublicKey, kind: str, path: Path) -> None:
    expected = scheme.private_type if kind == "private" else scheme.public_type
    if not isinstance(key, expected):
        raise KeyLoadError(
            f"密钥类型与签名算法不符 {kind} key {path} does not suit {scheme.algorithm.value}"
        )
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size < scheme.min_rsa_bits:
        raise KeyLoadError(
            f"RSA 密钥过短 {kind} key {path} has {key.key_size} bits; "
            f"at least {scheme.min_rsa_bits} are required"
        )


class Signer:
    """Signs outbound files with our private key."""

    def __init__(self, algorithm: SignatureAlgorithm, key: PrivateKey, key_path: Path) -> None:
        self.scheme = SCHEMES[algorithm]
        _check_key(self.scheme, key, "private", key_path)
        self._key = key
        self.key_path = key_path

    @classmethod
    def from_path(
        cls, algorithm: SignatureAlgorithm, key_path: Path, passphrase_env: str | None = None
    ) -> Signer:
        return cls(algorithm, load_private_key(key_path, passphrase_env), key_path)

    def __repr__(self) -> str:
        return f"Signer({self.scheme.algorithm.value}, key at {self.key_path})"

    def sign(self, data: bytes) -> bytes:
        """The raw signature."""
        return self.scheme.sign(self._key, data)

    def signature_file(self, data: bytes) -> bytes:
        """The content of ``NAME.sig``: base64 of the signature and a newline."""
        return base64.b64encode(self.sign(data)) + b"\n"


class Verifier:
    """Verifies the bank's signatures with its public key."""

    def __init__(self, algorithm: SignatureAlgorithm, key: PublicKey, key_path: Path) -> None:
        self.scheme = SCHEMES[algorithm]
        _check_key(self.scheme, key, "public", key_path)
        self._key = key
        self.key_path = key_path

    @classmethod
    def from_path(cls, algorithm: SignatureAlgorithm, key_path: Path) -> Verifier:
        return cls(algorithm, load_public_key(key_path), key_path)

    def __repr__(self) -> str:
        return f"Verifier({self.scheme.algorithm.value}, key at {self.key_path})"

    def verify(self, data: bytes, signature_file: bytes, *, name: str = "file") -> None:
        """Check ``NAME.sig`` against the file's bytes; raise ``SignatureInvalidError``."""
        try:
            signature = base64.b64decode(signature_file.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalidError(
                f"签名文件格式错误 signature of {name} is not base64 text"
            ) from None
        try:
            self.scheme.verify(self._key, signature, data)
        except InvalidSignature:
            raise SignatureInvalidError(
                f"签名验证失败 signature of {name} does not match its content: the file was "
                f"altered or not signed with the key at {self.key_path} "
                f"({self.scheme.algorithm.value})"
            ) from None
