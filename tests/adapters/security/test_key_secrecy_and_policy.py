"""Passphrase-protected keys, a bank's security policy end to end, and secrets kept secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from adapters.bankconfig import SecuritySection
from adapters.security import (
    SIGNATURE_SUFFIX,
    EnvelopeFormatError,
    FileSecurity,
    KeyLoadError,
    SecurityError,
    SignatureInvalidError,
    SignatureMissingError,
    load_private_key,
)
from adapters.security.keys import write_private_key, write_public_key

PASSPHRASE = "村有县存-银付银收-2026"
BATCH = "H|PAIN001|1|500.00\r\n".encode("gb18030")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Our signing and decryption keys (passphrase-protected) and the bank's keys."""
    folder = tmp_path_factory.mktemp("keys")
    ours_sign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ours_decrypt = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bank_sign = ed25519.Ed25519PrivateKey.generate()
    bank_encrypt = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    paths = {
        "ours_sign": folder / "sign_rsa.pem",
        "ours_sign_pub": folder / "sign_rsa.pub.pem",
        "ours_decrypt": folder / "decrypt_rsa.pem",
        "ours_decrypt_pub": folder / "decrypt_rsa.pub.pem",
        "bank_sign": folder / "bank_sign.pem",
        "bank_sign_pub": folder / "bank_sign.pub.pem",
        "bank_encrypt": folder / "bank_encrypt.pem",
        "bank_encrypt_pub": folder / "bank_encrypt.pub.pem",
    }
    write_private_key(ours_sign, paths["ours_sign"], PASSPHRASE.encode())
    write_public_key(ours_sign.public_key(), paths["ours_sign_pub"])
    write_private_key(ours_decrypt, paths["ours_decrypt"], PASSPHRASE.encode())
    write_public_key(ours_decrypt.public_key(), paths["ours_decrypt_pub"])
    write_private_key(bank_sign, paths["bank_sign"])
    write_public_key(bank_sign.public_key(), paths["bank_sign_pub"])
    write_private_key(bank_encrypt, paths["bank_encrypt"])
    write_public_key(bank_encrypt.public_key(), paths["bank_encrypt_pub"])
    return paths


def _ours(keys: dict[str, Path]) -> FileSecurity:
    return FileSecurity.from_config(
        SecuritySection(
            sign="rsa-pss-sha256",
            sign_key_path=keys["ours_sign"],
            sign_key_passphrase_env="HUZHU_TEST_SIGN_PASS",
            verify="ed25519",
            verify_key_path=keys["bank_sign_pub"],
            encrypt=True,
            encrypt_key_path=keys["bank_encrypt_pub"],
            decrypt=True,
            decrypt_key_path=keys["ours_decrypt"],
            decrypt_key_passphrase_env="HUZHU_TEST_DECRYPT_PASS",
        )
    )


def _bank(keys: dict[str, Path]) -> FileSecurity:
    """The bank's mirror image of our policy."""
    return FileSecurity.from_config(
        SecuritySection(
            sign="ed25519",
            sign_key_path=keys["bank_sign"],
            verify="rsa-pss-sha256",
            verify_key_path=keys["ours_sign_pub"],
            encrypt=True,
            encrypt_key_path=keys["ours_decrypt_pub"],
            decrypt=True,
            decrypt_key_path=keys["bank_encrypt"],
        )
    )


@pytest.fixture
def passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUZHU_TEST_SIGN_PASS", PASSPHRASE)
    monkeypatch.setenv("HUZHU_TEST_DECRYPT_PASS", PASSPHRASE)


@pytest.mark.usefixtures("passphrases")
def test_outbound_is_encrypted_and_signed_and_the_bank_can_open_it(
    keys: dict[str, Path],
) -> None:
    protected = _ours(keys).protect(BATCH)
    assert BATCH not in protected.data
    assert set(protected.sidecars) == {SIGNATURE_SUFFIX}
    opened = _bank(keys).unprotect("PAIN001_1.xml", protected.data, protected.sidecars[".sig"])
    assert opened == BATCH


@pytest.mark.usefixtures("passphrases")
def test_inbound_from_the_bank_is_verified_then_decrypted(keys: dict[str, Path]) -> None:
    result = "RESULT|成功|500.00\r\n".encode("gb18030")
    sent = _bank(keys).protect(result)
    ours = _ours(keys)
    assert ours.unprotect("RESULT_1.xml", sent.data, sent.sidecars[".sig"]) == result

    with pytest.raises(SignatureMissingError, match=r"RESULT_1\.xml came without"):
        ours.unprotect("RESULT_1.xml", sent.data, None)
    tampered = bytearray(sent.data)
    tampered[-3] ^= 0x01
    with pytest.raises(SignatureInvalidError):
        ours.unprotect("RESULT_1.xml", bytes(tampered), sent.sidecars[".sig"])


@pytest.mark.usefixtures("passphrases")
def test_an_unencrypted_file_from_a_bank_that_encrypts_is_refused(keys: dict[str, Path]) -> None:
    signer_only = FileSecurity.from_config(
        SecuritySection(sign="ed25519", sign_key_path=keys["bank_sign"])
    )
    plain = signer_only.protect(b"plain result")
    with pytest.raises(EnvelopeFormatError, match="not an encrypted envelope"):
        _ours(keys).unprotect("RESULT_2.xml", plain.data, plain.sidecars[".sig"])


def test_no_security_passes_files_through_unchanged() -> None:
    none = FileSecurity.from_config(SecuritySection())
    protected = none.protect(BATCH)
    assert protected.data == BATCH
    assert protected.sidecars == {}
    assert none.unprotect("x", BATCH, None) == BATCH


def test_passphrase_protected_key_needs_its_environment_variable(
    keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUZHU_TEST_SIGN_PASS", raising=False)
    with pytest.raises(KeyLoadError, match="HUZHU_TEST_SIGN_PASS is not set"):
        load_private_key(keys["ours_sign"], "HUZHU_TEST_SIGN_PASS")
    monkeypatch.setenv("HUZHU_TEST_SIGN_PASS", PASSPHRASE)
    assert isinstance(
        load_private_key(keys["ours_sign"], "HUZHU_TEST_SIGN_PASS"), rsa.RSAPrivateKey
    )


def test_missing_and_unreadable_key_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(KeyLoadError, match=r"does not exist"):
        load_private_key(tmp_path / "absent.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError, match=str(junk)):
        load_private_key(junk)


def test_no_key_or_passphrase_in_reprs_errors_or_logs(
    keys: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    pem = keys["ours_sign"].read_text()
    key_body = "".join(pem.splitlines()[1:-1])
    public_body = "".join(keys["ours_sign_pub"].read_text().splitlines()[1:-1])
    raw_private = (
        load_private_key(keys["ours_sign"], "P", environ={"P": PASSPHRASE})
        .private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .hex()
    )
    texts: list[str] = []

    # A wrong passphrase: the error names the file, never the passphrase.
    monkeypatch.setenv("HUZHU_TEST_SIGN_PASS", PASSPHRASE + "-wrong")
    monkeypatch.setenv("HUZHU_TEST_DECRYPT_PASS", PASSPHRASE)
    with pytest.raises(SecurityError) as wrong:
        _ours(keys)
    texts += [str(wrong.value), repr(wrong.value)]
    assert str(keys["ours_sign"]) in str(wrong.value)

    monkeypatch.setenv("HUZHU_TEST_SIGN_PASS", PASSPHRASE)
    policy = _ours(keys)
    texts += [repr(policy), str(policy), repr(policy.signer), repr(policy.verifier)]
    with pytest.raises(SecurityError) as refused:
        policy.unprotect("RESULT_3.xml", b"forged", b"Zm9yZ2Vk\n")
    texts += [str(refused.value), caplog.text]

    blob = "\n".join(texts)
    for secret in (PASSPHRASE, key_body[:40], public_body[40:80], raw_private[:40]):
        assert secret not in blob
