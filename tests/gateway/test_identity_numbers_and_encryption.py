"""Card (Luhn) and resident-ID (GB 11643) checks, and encryption at rest of both."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest

from gateway.db import make_engine
from gateway.errors import ConfigurationError, ValidationFailed
from gateway.security.checks import (
    card_problem,
    luhn_check_digit,
    phone_problem,
    resident_id_problem,
)
from gateway.security.fieldcrypt import FieldCipher, mask_card, mask_resident_id
from gateway.settings import Settings


def test_luhn_check_digit_of_known_numbers() -> None:
    assert luhn_check_digit("7992739871") == "3"  # the textbook example 79927398713
    assert card_problem("4111111111111111") is None
    assert card_problem("6212262201023557228") is None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4111111111111112", "Luhn"),
        ("411111111111111", "16-19 digits"),
        ("41111111111111x1", "16-19 digits"),
        ("41111111111111111111", "16-19 digits"),
    ],
)
def test_bad_cards_are_named(number: str, reason: str) -> None:
    problem = card_problem(number)
    assert problem is not None
    assert reason in problem


def test_resident_id_check_character() -> None:
    assert resident_id_problem("11010519491231002X") is None  # the standard's own example
    assert "GB 11643" in (resident_id_problem("110105194912310021") or "")
    assert "birth date" in (resident_id_problem("11010519491331002X") or "")
    assert "18 characters" in (resident_id_problem("1101051949123100") or "")


def test_phone_numbers() -> None:
    assert phone_problem("13800138000") is None
    assert phone_problem("12800138000") is not None
    assert phone_problem("1380013800") is not None


def test_masks() -> None:
    assert mask_card("6217001234561234") == "6217 **** **** 1234"
    assert mask_card("6217 0012 3456 1234") == "6217 **** **** 1234"
    assert mask_resident_id("11010519491231002X") == "1101**********002X"


def test_encryption_round_trip_and_tamper_detection() -> None:
    cipher = FieldCipher(os.urandom(32))
    blob = cipher.encrypt("card", "6217001234561234")
    assert b"6217001234561234" not in blob
    assert cipher.decrypt("card", blob) == "6217001234561234"
    assert cipher.encrypt("card", "6217001234561234") != blob  # fresh nonce each time
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(ValidationFailed, match="tampered"):
        cipher.decrypt("card", tampered)
    with pytest.raises(ValidationFailed):
        cipher.decrypt("resident_id", blob)  # a card cipher cannot pass for an ID
    with pytest.raises(ValidationFailed):
        FieldCipher(os.urandom(32)).decrypt("card", blob)


def test_lookup_hash_is_keyed_and_per_field() -> None:
    key = os.urandom(32)
    one, same = FieldCipher(key), FieldCipher(key)
    assert one.lookup_hash("card", "6217") == same.lookup_hash("card", "6217")
    assert one.lookup_hash("card", "6217") != one.lookup_hash("resident_id", "6217")
    other = FieldCipher(os.urandom(32))
    assert one.lookup_hash("card", "6217") != other.lookup_hash("card", "6217")
    assert "key hidden" in repr(one)


def test_key_file_is_created_private_and_reused_for_an_empty_database(tmp_path: Path) -> None:
    settings = Settings(field_key_file=tmp_path / "var" / "field.key")
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    first = FieldCipher.from_settings(settings, database=empty)
    key_file = tmp_path / "var" / "field.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    blob = first.encrypt("card", "1")
    assert FieldCipher.from_settings(settings).decrypt("card", blob) == "1"


def test_a_missing_key_is_never_made_up_without_a_database_to_check(tmp_path: Path) -> None:
    settings = Settings(field_key_file=tmp_path / "field.key")
    with pytest.raises(ConfigurationError, match="does not exist"):
        FieldCipher.from_settings(settings)
    assert not (tmp_path / "field.key").exists()


def test_a_missing_key_for_a_database_holding_cards_is_refused_not_replaced(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'held.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE members (id INTEGER PRIMARY KEY, card_cipher BLOB, "
            "resident_id_cipher BLOB)"
        )
        connection.exec_driver_sql("INSERT INTO members VALUES (1, x'01', x'01')")
    settings = Settings(field_key_file=tmp_path / "field.key")
    with pytest.raises(ConfigurationError) as refused:
        FieldCipher.from_settings(settings, database=engine)
    assert "restore" in refused.value.message_en
    assert "恢复" in refused.value.message_zh
    assert not (tmp_path / "field.key").exists()


def test_missing_key_file_is_refused_when_not_allowed_to_create(tmp_path: Path) -> None:
    settings = Settings(field_key_file=tmp_path / "absent.key", field_key_autocreate=False)
    with pytest.raises(ConfigurationError, match="does not exist"):
        FieldCipher.from_settings(settings)


def test_key_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("HZ_TEST_FIELD_KEY", base64.b64encode(key).decode())
    cipher = FieldCipher.from_settings(Settings(field_key_env="HZ_TEST_FIELD_KEY"))
    assert FieldCipher(key).decrypt("card", cipher.encrypt("card", "42")) == "42"
    monkeypatch.setenv("HZ_TEST_FIELD_KEY", "not base64!")
    with pytest.raises(ConfigurationError, match="not base64"):
        FieldCipher.from_settings(Settings(field_key_env="HZ_TEST_FIELD_KEY"))
    monkeypatch.delenv("HZ_TEST_FIELD_KEY")
    with pytest.raises(ConfigurationError, match="is not set"):
        FieldCipher.from_settings(Settings(field_key_env="HZ_TEST_FIELD_KEY"))
