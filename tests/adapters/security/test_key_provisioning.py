"""The institution's own keys, made where a bank's configuration expects them."""

from __future__ import annotations

import stat
from pathlib import Path

import paramiko
import pytest

from adapters.bankconfig import load_bank_config
from adapters.security import SignatureAlgorithm, Signer, Verifier, load_private_key, provision
from adapters.security.provision import provision_keys, public_half

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _quick_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    """2048-bit keys keep the test quick; production keys are 3072 bits."""
    monkeypatch.setattr(provision, "RSA_BITS", 2048)


def test_all_missing_keys_are_made_once_with_their_public_halves(tmp_path: Path) -> None:
    bank = load_bank_config(REPO / "config" / "banks" / "rcc_iso.toml", root=tmp_path)
    env = {"HUZHU_SFTP_KEY_PASSPHRASE": "sftp-pass", "HUZHU_DECRYPT_KEY_PASSPHRASE": "dec-pass"}
    written = provision_keys(bank, environ=env)
    keys = tmp_path / "var" / "keys"
    assert sorted(p.name for p in written) == [
        "decrypt_rsa.pem",
        "decrypt_rsa.pub.pem",
        "sftp_client_ed25519",
        "sftp_client_ed25519.pub",
        "sign_rsa.pem",
        "sign_rsa.pub.pem",
    ]
    for private in ("decrypt_rsa.pem", "sftp_client_ed25519", "sign_rsa.pem"):
        assert stat.S_IMODE((keys / private).stat().st_mode) == 0o600

    # The SFTP key is an OpenSSH key paramiko opens with the passphrase from the environment.
    with pytest.raises(paramiko.PasswordRequiredException):
        paramiko.Ed25519Key.from_private_key_file(str(keys / "sftp_client_ed25519"))
    assert paramiko.PKey.from_path(keys / "sftp_client_ed25519", b"sftp-pass")  # type: ignore[arg-type]
    assert (keys / "sftp_client_ed25519.pub").read_text().startswith("ssh-ed25519 ")

    # The signing key (no passphrase variable set) signs what its public half verifies.
    signer = Signer.from_path(SignatureAlgorithm.RSA_PSS_SHA256, keys / "sign_rsa.pem")
    verifier = Verifier.from_path(
        SignatureAlgorithm.RSA_PSS_SHA256, public_half(keys / "sign_rsa.pem")
    )
    verifier.verify(b"batch", signer.signature_file(b"batch"))
    load_private_key(keys / "decrypt_rsa.pem", "P", environ={"P": "dec-pass"})

    before = (keys / "sign_rsa.pem").read_bytes()
    assert provision_keys(bank, environ=env) == []
    assert (keys / "sign_rsa.pem").read_bytes() == before


def test_a_bank_signing_with_ed25519_gets_an_ed25519_key(tmp_path: Path) -> None:
    bank = load_bank_config(REPO / "config" / "banks" / "rcb.toml", root=tmp_path)
    written = provision_keys(bank, environ={})
    assert tmp_path / "var" / "keys" / "sign_ed25519.pem" in written
    Signer.from_path(SignatureAlgorithm.ED25519, tmp_path / "var" / "keys" / "sign_ed25519.pem")
