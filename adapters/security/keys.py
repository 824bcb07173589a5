"""Reading keys from the paths in a bank's configuration.

Private keys may be PEM (PKCS#8 or traditional) or OpenSSH format and may be protected by
a passphrase taken from an environment variable; public keys may be PEM or an OpenSSH
``.pub`` line. Errors name the path and the environment variable, never their content.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adapters.security.errors import KeyLoadError

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyLoadError(f"密钥文件不存在 {what} {path} does not exist") from None
    except OSError as exc:
        raise KeyLoadError(
            f"密钥文件无法读取 {what} {path} cannot be read ({exc.strerror})"
        ) from None


def _passphrase(env: str | None, environ: Mapping[str, str]) -> bytes | None:
    if not env:
        return None
    value = environ.get(env)
    return value.encode("utf-8") if value else None


def load_private_key(
    path: Path,
    passphrase_env: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> PrivateKey:
    """Load an Ed25519 or RSA private key; the passphrase comes from ``passphrase_env``."""
    data = _read(path, "private key")
    password = _passphrase(passphrase_env, os.environ if environ is None else environ)
    loader = (
        serialization.load_ssh_private_key
        if data.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
        else serialization.load_pem_private_key
    )
    try:
        key = loader(data, password=password)
    except TypeError:
        if password is None:
            hint = (
                f"environment variable {passphrase_env} is not set"
                if passphrase_env
                else "configure the environment variable that holds its passphrase"
            )
            raise KeyLoadError(
                f"私钥需要口令 private key {path} is passphrase-protected: {hint}"
            ) from None
        raise KeyLoadError(
            f"私钥未加密 private key {path} is not passphrase-protected but a passphrase "
            f"was given in {passphrase_env}"
        ) from None
    except ValueError:
        raise KeyLoadError(
            f"私钥无法解开 private key {path}: wrong passphrase or not a private key"
        ) from None
    except Exception:
        raise KeyLoadError(
            f"私钥格式不支持 private key {path} is in an unsupported format"
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        raise KeyLoadError(
            f"私钥类型不支持 private key {path} is a {type(key).__name__}; "
            "only Ed25519 and RSA keys are accepted"
        )
    return key


def load_public_key(path: Path) -> PublicKey:
    """Load an Ed25519 or RSA public key (PEM or an OpenSSH public key line)."""
    data = _read(path, "public key")
    # the PEM and OpenSSH loaders return different unions of key types; both are narrowed below
    key: object
    try:
        if data.lstrip().startswith(b"-----"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_ssh_public_key(data.strip())
    except (ValueError, UnsupportedAlgorithm):
        raise KeyLoadError(f"公钥无法读取 public key {path} is not a PEM or OpenSSH key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise KeyLoadError(
            f"公钥类型不支持 public key {path} is a {type(key).__name__}; "
            "only Ed25519 and RSA keys are accepted"
        )
    return key


def public_key_id(key: PublicKey) -> bytes:
    """SHA-256 of the key's DER SubjectPublicKeyInfo: names a key without revealing it."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize()


def write_private_key(key: PrivateKey, path: Path, passphrase: bytes | None = None) -> None:
    """Store a private key as PKCS#8 PEM readable by its owner only."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def write_public_key(key: PublicKey, path: Path) -> None:
    """Store a public key as PEM SubjectPublicKeyInfo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
