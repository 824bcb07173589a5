"""Detached signatures: both algorithms, tampering, wrong keys, key files on disk."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adapters.security import (
    KeyLoadError,
    SignatureAlgorithm,
    SignatureInvalidError,
    Signer,
    Verifier,
)
from adapters.security.keys import write_private_key, write_public_key

BATCH = "H|DF20260302001|2|300.00\r\nD|1|6217000000000001|张三|100.00\r\n".encode("gb18030")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pair(
    algorithm: SignatureAlgorithm,
    key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey,
    tmp_path: Path,
) -> tuple[Signer, Verifier]:
    private, public = tmp_path / f"{algorithm}.pem", tmp_path / f"{algorithm}.pub.pem"
    write_private_key(key, private)
    write_public_key(key.public_key(), public)
    return Signer.from_path(algorithm, private), Verifier.from_path(algorithm, public)


@pytest.fixture(params=list(SignatureAlgorithm))
def pair(
    request: pytest.FixtureRequest, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> tuple[Signer, Verifier]:
    algorithm = SignatureAlgorithm(request.param)
    key = (
        rsa_key
        if algorithm is SignatureAlgorithm.RSA_PSS_SHA256
        else ed25519.Ed25519PrivateKey.generate()
    )
    return _pair(algorithm, key, tmp_path)


def test_signature_file_is_base64_text_and_verifies(pair: tuple[Signer, Verifier]) -> None:
    signer, verifier = pair
    sig = signer.signature_file(BATCH)
    assert sig.endswith(b"\n")
    raw = base64.b64decode(sig.rstrip(b"\n"), validate=True)
    expected_size = 64 if signer.scheme.algorithm is SignatureAlgorithm.ED25519 else 256
    assert len(raw) == expected_size
    verifier.verify(BATCH, sig, name="DF_001.txt")


@pytest.mark.parametrize("flip_at", [0, 17, -1])
def test_a_tampered_file_is_refused_naming_it(pair: tuple[Signer, Verifier], flip_at: int) -> None:
    signer, verifier = pair
    sig = signer.signature_file(BATCH)
    tampered = bytearray(BATCH)
    tampered[flip_at] ^= 0x01
    with pytest.raises(SignatureInvalidError, match=r"DF_001\.txt.*altered"):
        verifier.verify(bytes(tampered), sig, name="DF_001.txt")


def test_one_more_line_appended_is_refused(pair: tuple[Signer, Verifier]) -> None:
    signer, verifier = pair
    sig = signer.signature_file(BATCH)
    with pytest.raises(SignatureInvalidError):
        verifier.verify(BATCH + b"D|2|6217000000000002|li|999.00\r\n", sig)


def test_a_signature_that_is_not_base64_is_refused(pair: tuple[Signer, Verifier]) -> None:
    _, verifier = pair
    with pytest.raises(SignatureInvalidError, match="not base64"):
        verifier.verify(BATCH, b"this is not a signature!")


def test_signed_with_another_key_is_refused(
    rsa_key: rsa.RSAPrivateKey, other_rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    signer, _ = _pair(SignatureAlgorithm.RSA_PSS_SHA256, other_rsa_key, tmp_path / "a")
    _, verifier = _pair(SignatureAlgorithm.RSA_PSS_SHA256, rsa_key, tmp_path / "b")
    with pytest.raises(SignatureInvalidError, match="not signed with the key"):
        verifier.verify(BATCH, signer.signature_file(BATCH), name="RESULT_1.txt")

    ed_signer, _ = _pair(
        SignatureAlgorithm.ED25519, ed25519.Ed25519PrivateKey.generate(), tmp_path / "c"
    )
    _, ed_verifier = _pair(
        SignatureAlgorithm.ED25519, ed25519.Ed25519PrivateKey.generate(), tmp_path / "d"
    )
    with pytest.raises(SignatureInvalidError):
        ed_verifier.verify(BATCH, ed_signer.signature_file(BATCH))


def test_a_key_of_the_wrong_kind_for_the_algorithm_is_refused(
    rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "rsa.pem"
    write_private_key(rsa_key, path)
    with pytest.raises(KeyLoadError, match="does not suit ed25519"):
        Signer.from_path(SignatureAlgorithm.ED25519, path)


def test_short_rsa_keys_are_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "weak.pem"
    write_private_key(weak, path)
    with pytest.raises(KeyLoadError, match="1024 bits"):
        Signer.from_path(SignatureAlgorithm.RSA_PSS_SHA256, path)


def test_openssh_format_keys_are_accepted(tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    signer = Signer.from_path(SignatureAlgorithm.ED25519, key)
    verifier = Verifier.from_path(SignatureAlgorithm.ED25519, key.with_suffix(".pub"))
    verifier.verify(BATCH, signer.signature_file(BATCH))
