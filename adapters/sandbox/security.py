"""The bank's side of file security: its own keys, and the policy per institution.

The bank keeps its keys in ``<state_dir>/keys`` and generates them on first use:
``bank_sign_ed25519.pem`` or ``bank_sign_rsa.pem`` (signing what it sends) and
``bank_encrypt_rsa.pem`` (what institutions encrypt to), each with its ``.pub.pem`` for the
institutions' configuration. The mechanics are the shared ``adapters.security`` ones, so
the sandbox checks files exactly as a real bank following the same rules would.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adapters.sandbox.config import InstitutionSecurity
from adapters.security import FileSecurity, SignatureAlgorithm, Signer, Verifier
from adapters.security.errors import KeyLoadError
from adapters.security.keys import (
    PrivateKey,
    load_private_key,
    load_public_key,
    write_private_key,
    write_public_key,
)

KEYS_DIR = "keys"
ENCRYPT_KEY = "bank_encrypt_rsa.pem"
SIGN_KEYS = {
    SignatureAlgorithm.ED25519: "bank_sign_ed25519.pem",
    SignatureAlgorithm.RSA_PSS_SHA256: "bank_sign_rsa.pem",
}
RSA_BITS = 3072


def public_path(private_path: Path) -> Path:
    """``bank_sign_rsa.pem`` -> ``bank_sign_rsa.pub.pem``."""
    return private_path.with_name(private_path.name.removesuffix(".pem") + ".pub.pem")


def bank_key(keys_dir: Path, name: str, *, rsa_key: bool) -> PrivateKey:
    """One of the bank's own private keys, generated (with its public half) when missing."""
    path = keys_dir / name
    if path.exists():
        return load_private_key(path)
    key: PrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        if rsa_key
        else ed25519.Ed25519PrivateKey.generate()
    )
    write_private_key(key, path)
    write_public_key(key.public_key(), public_path(path))
    return key


def file_security(policy: InstitutionSecurity, state_dir: Path) -> FileSecurity | None:
    """The bank's ``FileSecurity`` for one institution, or None when files travel plain."""
    if not policy.active:
        return None
    keys_dir = state_dir / KEYS_DIR
    signer = verifier = None
    recipient = decryption_key = None
    if policy.sign:
        algorithm = SignatureAlgorithm(policy.sign)
        name = SIGN_KEYS[algorithm]
        key = bank_key(keys_dir, name, rsa_key=algorithm is SignatureAlgorithm.RSA_PSS_SHA256)
        signer = Signer(algorithm, key, keys_dir / name)
    if policy.verify and policy.verify_key_path is not None:
        verifier = Verifier.from_path(SignatureAlgorithm(policy.verify), policy.verify_key_path)
    if policy.decrypt:
        private = bank_key(keys_dir, ENCRYPT_KEY, rsa_key=True)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise KeyLoadError(f"{keys_dir / ENCRYPT_KEY} is not an RSA private key")
        decryption_key = private
    if policy.encrypt_key_path is not None:
        public = load_public_key(policy.encrypt_key_path)
        if not isinstance(public, rsa.RSAPublicKey):
            raise KeyLoadError(f"{policy.encrypt_key_path} is not an RSA public key")
        recipient = public
    return FileSecurity(
        signer=signer, verifier=verifier, recipient=recipient, decryption_key=decryption_key
    )
