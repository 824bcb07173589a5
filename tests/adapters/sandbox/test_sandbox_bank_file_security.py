"""Signed and encrypted exchange: the bank checks what it receives and protects what it sends."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.records import Direction, ResultStatus
from adapters.sandbox import BankEngine
from adapters.sandbox.security import ENCRYPT_KEY, SIGN_KEYS, public_path
from adapters.security import (
    SIGNATURE_SUFFIX,
    FileSecurity,
    SecurityError,
    SignatureAlgorithm,
    Signer,
    Verifier,
    is_envelope,
)
from adapters.security.keys import load_public_key, write_private_key, write_public_key
from tests.adapters.sandbox.sandbox_support import (
    CARD_ZHANG,
    DAY1,
    INSTITUTION,
    SUB_A,
    JsonRecordsAdapter,
    batch,
    make_config,
    seeded_engine,
)

JSON = JsonRecordsAdapter()
RSA_PSS = SignatureAlgorithm.RSA_PSS_SHA256


class County:
    """The institution's side: its own keys, and the bank's public keys once the bank made them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.decrypt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_private_key(self.sign_key, folder / "sign_rsa.pem")
        write_public_key(self.sign_key.public_key(), folder / "sign_rsa.pub.pem")
        write_public_key(self.decrypt_key.public_key(), folder / "decrypt_rsa.pub.pem")

    def policy(self) -> dict[str, object]:
        return {
            "verify": "rsa-pss-sha256",
            "verify_key_path": str(self.folder / "sign_rsa.pub.pem"),
            "decrypt": True,
            "sign": "rsa-pss-sha256",
            "encrypt_key_path": str(self.folder / "decrypt_rsa.pub.pem"),
        }

    def security(self, bank_state: Path) -> FileSecurity:
        keys = bank_state / "keys"
        bank_encrypt = load_public_key(public_path(keys / ENCRYPT_KEY))
        assert isinstance(bank_encrypt, rsa.RSAPublicKey)
        return FileSecurity(
            signer=Signer(RSA_PSS, self.sign_key, self.folder / "sign_rsa.pem"),
            verifier=Verifier.from_path(RSA_PSS, public_path(keys / SIGN_KEYS[RSA_PSS])),
            recipient=bank_encrypt,
            decryption_key=self.decrypt_key,
        )


@pytest.fixture(scope="module")
def bank_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bank's keys, made once for this module (the bank makes 3072-bit ones itself)."""
    keys = tmp_path_factory.mktemp("bank_keys")
    for name in (ENCRYPT_KEY, SIGN_KEYS[RSA_PSS]):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_private_key(key, keys / name)
        write_public_key(key.public_key(), public_path(keys / name))
    return keys


def _engine(tmp_path: Path, bank_keys: Path | None) -> tuple[BankEngine, County, Path]:
    county_dir = tmp_path / "county"
    county_dir.mkdir()
    county = County(county_dir)
    state = tmp_path / "bank"
    if bank_keys is not None:
        shutil.copytree(bank_keys, state / "keys")
    engine = seeded_engine(state, security=county.policy())
    return engine, county, state


def _upload(engine: BankEngine, name: str, data: bytes, sidecars: dict[str, bytes]) -> Path:
    folder = engine.institution_root(INSTITUTION) / "in"
    (folder / name).write_bytes(data)
    for suffix, content in sidecars.items():
        (folder / (name + suffix)).write_bytes(content)
    (folder / (name + ".done")).write_bytes(b"")
    return folder / name


def _plain_batch() -> bytes:
    return JSON.render_batch(
        batch(Direction.DISBURSEMENT, [("E1", 100_000, SUB_A, CARD_ZHANG, "张三")])
    )


def test_signed_encrypted_batch_is_booked_and_answered_signed_and_encrypted(
    tmp_path: Path, bank_keys: Path
) -> None:
    engine, county, state = _engine(tmp_path, bank_keys)
    security = county.security(state)
    protected = security.protect(_plain_batch())
    assert protected.data != _plain_batch()
    _upload(engine, "DF_001.json", protected.data, protected.sidecars)
    report = engine.run_cutoff(DAY1)
    out = engine.institution_root(INSTITUTION) / "out"
    (name,) = report.result_files
    sent = (out / name).read_bytes()
    signature = (out / (name + SIGNATURE_SUFFIX)).read_bytes()
    assert is_envelope(sent)  # encrypted on the wire
    (line,) = JSON.parse_result(security.unprotect(name, sent, signature)).results
    assert line.status is ResultStatus.SETTLED
    engine.end_of_day(DAY1)
    statement_name = next(
        p.name for p in out.iterdir() if p.name.startswith("STMT_") and p.suffix == ".txt"
    )
    statement = JSON.parse_statements(
        security.unprotect(
            statement_name,
            (out / statement_name).read_bytes(),
            (out / (statement_name + SIGNATURE_SUFFIX)).read_bytes(),
        )
    )[0]
    assert [e.end_to_end_id for e in statement.entries if e.end_to_end_id] == ["E1"]


@pytest.mark.parametrize("defect", ["tampered", "unsigned", "wrong_recipient"])
def test_a_file_failing_its_checks_is_refused_whole(
    tmp_path: Path, bank_keys: Path, defect: str
) -> None:
    engine, county, state = _engine(tmp_path, bank_keys)
    security = county.security(state)
    protected = security.protect(_plain_batch())
    data, sidecars = protected.data, dict(protected.sidecars)
    if defect == "tampered":
        data = data[:-1] + bytes([data[-1] ^ 1])
    elif defect == "unsigned":
        sidecars = {}
    else:
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        wrong = FileSecurity(signer=security.signer, recipient=stranger.public_key()).protect(
            _plain_batch()
        )
        data, sidecars = wrong.data, dict(wrong.sidecars)
    _upload(engine, "DF_001.json", data, sidecars)
    report = engine.run_cutoff(DAY1)
    assert report.refused_files == ("DF_001.json",)
    assert report.result_files == ()
    notice = engine.institution_root(INSTITUTION) / "out" / "DF_001.json.refused.txt"
    assert "签名或加密不符" in notice.read_text(encoding="utf-8")
    # the notice is plain text, signed: the county's verifier accepts it as the bank's
    signature = notice.with_name(notice.name + SIGNATURE_SUFFIX).read_bytes()
    assert security.verifier is not None
    security.verifier.verify(notice.read_bytes(), signature, name=notice.name)
    with pytest.raises(SecurityError):
        security.verifier.verify(notice.read_bytes() + b" ", signature, name=notice.name)
    assert engine.balance_fen(SUB_A) == 5_000_000

    fixed = security.protect(_plain_batch())  # the county sends it again, correctly
    _upload(engine, "DF_001.json", fixed.data, fixed.sidecars)
    again = engine.run_cutoff(DAY1)
    assert len(again.result_files) == 1
    assert engine.balance_fen(SUB_A) == 4_900_000


def test_the_same_batch_encrypted_twice_is_still_a_duplicate(
    tmp_path: Path, bank_keys: Path
) -> None:
    engine, county, state = _engine(tmp_path, bank_keys)
    security = county.security(state)
    first, second = security.protect(_plain_batch()), security.protect(_plain_batch())
    assert first.data != second.data
    _upload(engine, "DF_001.json", first.data, first.sidecars)
    engine.run_cutoff(DAY1)
    _upload(engine, "DF_002.json", second.data, second.sidecars)
    report = engine.run_cutoff(DAY1)
    assert report.duplicate_files == ("DF_002.json",)
    assert engine.balance_fen(SUB_A) == 4_900_000


def test_the_bank_makes_its_keys_once_and_keeps_them(tmp_path: Path) -> None:
    engine, county, state = _engine(tmp_path, None)
    keys = state / "keys"
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    assert set(before) == {
        "bank_sign_rsa.pem",
        "bank_sign_rsa.pub.pem",
        "bank_encrypt_rsa.pem",
        "bank_encrypt_rsa.pub.pem",
    }
    assert (keys / "bank_sign_rsa.pem").stat().st_mode & 0o077 == 0
    del engine
    BankEngine(make_config(state, security=county.policy()), {INSTITUTION: JSON})
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before
