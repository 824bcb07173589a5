"""Making an institution's own keys for a bank, where the configuration expects them.

Used by the demo and by an integrator setting up a new bank: for every key the bank's
file names as ours (SFTP client key, signing key, decryption key) that does not exist yet,
a fresh key is written, readable by its owner only, together with its public half for the
bank (``sftp_client_ed25519`` → ``sftp_client_ed25519.pub`` in OpenSSH format;
``sign_rsa.pem`` → ``sign_rsa.pub.pem`` in PEM). When the key's passphrase variable is set,
the key is stored encrypted with it. Existing files are never replaced.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adapters.bankconfig import BankConfig, SignAlgorithm
from adapters.security.keys import PrivateKey, write_private_key, write_public_key

RSA_BITS = 3072


def public_half(private_path: Path) -> Path:
    """Where a PEM private key's public half is kept: ``name.pem`` → ``name.pub.pem``."""
    stem = private_path.name.removesuffix(".pem")
    return private_path.with_name(f"{stem}.pub.pem")


def _passphrase(env: str | None, environ: Mapping[str, str]) -> bytes | None:
    value = environ.get(env) if env else None
    return value.encode("utf-8") if value else None


def _new_rsa() -> PrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def _new_ed25519() -> PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _write_ssh_key(key: ed25519.Ed25519PrivateKey, path: Path, passphrase: bytes | None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
            )
        )
    public = path.with_name(path.name + ".pub")
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    public.write_bytes(line + b" huzhu-sftp-client\n")
    return public


def provision_keys(bank: BankConfig, *, environ: Mapping[str, str] | None = None) -> list[Path]:
    """Create the institution's missing keys for ``bank``; returns the files written."""
    env = os.environ if environ is None else environ
    written: list[Path] = []
    sftp = bank.sftp
    if not sftp.private_key_path.exists():
        passphrase = _passphrase(sftp.private_key_passphrase_env, env)
        key = ed25519.Ed25519PrivateKey.generate()
        public = _write_ssh_key(key, sftp.private_key_path, passphrase)
        written += [sftp.private_key_path, public]

    security = bank.security
    wanted: list[tuple[Path, str | None, Callable[[], PrivateKey]]] = []
    if security.sign is not SignAlgorithm.NONE and security.sign_key_path is not None:
        make = _new_ed25519 if security.sign is SignAlgorithm.ED25519 else _new_rsa
        wanted.append((security.sign_key_path, security.sign_key_passphrase_env, make))
    if security.decrypt and security.decrypt_key_path is not None:
        wanted.append((security.decrypt_key_path, security.decrypt_key_passphrase_env, _new_rsa))
    for path, passphrase_env, make in wanted:
        if path.exists():
            continue
        new_key = make()
        write_private_key(new_key, path, _passphrase(passphrase_env, env))
        write_public_key(new_key.public_key(), public_half(path))
        written += [path, public_half(path)]
    return written
