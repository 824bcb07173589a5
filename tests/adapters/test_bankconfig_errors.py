"""Bad bank files: every problem is refused with the file and the key named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adapters.bankconfig import BankConfigError, load_bank_config, load_bank_configs

REPO = Path(__file__).resolve().parents[2]
GOOD = (REPO / "config" / "banks" / "rcb.toml").read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str, name: str = "bank.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _replace(key: str, value: str) -> str:
    """The good file with ``key = ...`` (first occurrence) set to ``value``."""
    pattern = re.compile(rf"^{re.escape(key)} = .*$", re.MULTILINE)
    assert pattern.search(GOOD), key
    return pattern.sub(f"{key} = {value}", GOOD, count=1)


def _remove(key: str) -> str:
    return re.sub(rf"^{re.escape(key)} = .*\n", "", GOOD, count=1, flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        (_replace("port", "70000"), "sftp.port", "less than or equal to 65535"),
        (_replace("port", '"22"'), "sftp.port", "valid integer"),
        (_replace("checksum", '"yes"'), "sftp.checksum", "valid boolean"),
        (_replace("timezone", '"Mars/Olympus"'), "bank.timezone", "unknown time zone"),
        (_replace("code", '"Bad Code"'), "bank.code", "pattern"),
        (_replace("after_fetch", '"archive"'), "sftp.after_fetch", "leave"),
        (_replace("marker_suffix", '"done"'), "sftp.marker_suffix", "pattern"),
        (_replace("sign", '"dsa"'), "security.sign", "ed25519"),
        (_replace("disbursement", '"4pm"'), "cutoff.disbursement", "HH:MM"),
        (_replace("max_amount_fen_per_file", "500000.00"), "limits.max_amount_fen_per_file", ""),
        (
            _replace("disbursement_name", '"DF_{date:%Y%m%d}.txt"'),
            "files.disbursement_name",
            "{seq",
        ),
        (
            _replace("collection_name", '"DK_{branch}_{date:%Y%m%d}_{seq:03d}.txt"'),
            "files.collection_name",
            "unknown placeholder",
        ),
        (
            _replace("collection_name", '"../DK_{date:%Y%m%d}_{seq:03d}.txt"'),
            "files.collection_name",
            "plain file name",
        ),
        (
            _replace("collection_name", '"DF_{bank}_{date:%Y%m%d}_{seq:03d}.txt"'),
            "files",
            "disbursement_name and collection_name give the same file name",
        ),
        (
            _replace("collection_name", '"df_{bank}_{date:%Y%m%d}_{seq:03d}.txt"'),
            "files",
            "disbursement_name and collection_name give the same file name",
        ),
        (
            _replace("disbursement_name", '"DF_{bank}_{date:%m%d}_{seq:03d}.txt"'),
            "files.disbursement_name",
            "lacks the year",
        ),
        (
            _replace("collection_name", '"DK_{bank}_{date:%d}_{seq:03d}.txt"'),
            "files.collection_name",
            "lacks the year/month",
        ),
        (_replace("result_patterns", "[]"), "files.result_patterns", "at least 1"),
        (_remove("sign_key_path"), "security", "sign_key_path must be set"),
        (_remove("host"), "sftp.host", "Field required"),
        (
            GOOD.replace("\n[files]\n", "\n[files]\nunknown_option = 1\n"),
            "files.unknown_option",
            "unknown",
        ),
        (
            _replace("processed_folder", '""'),
            "sftp",
            "processed_folder",
        ),
    ],
)
def test_bad_values_name_the_file_and_key(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(BankConfigError) as caught:
        load_bank_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in message
    assert reason in message


@pytest.mark.parametrize(
    "line",
    [
        'private_key = "-----BEGIN OPENSSH PRIVATE KEY-----"',
        'password = "hunter2"',
        'sign_key_passphrase = "hunter2"',
    ],
)
def test_inline_secrets_are_refused_without_echoing_them(tmp_path: Path, line: str) -> None:
    table = "\n[security]\n" if "sign" in line else "\n[sftp]\n"
    path = _write(tmp_path, GOOD.replace(table, f"{table}{line}\n"))
    with pytest.raises(BankConfigError, match="secrets are never inline") as caught:
        load_bank_config(path)
    assert "hunter2" not in str(caught.value)
    assert "BEGIN OPENSSH" not in str(caught.value)


def test_not_toml_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD.replace("\n[sftp]\n", "\n[sftp\n"))
    with pytest.raises(BankConfigError, match=r"not valid TOML.*line"):
        load_bank_config(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BankConfigError, match="file not found"):
        load_bank_config(tmp_path / "absent.toml")
    with pytest.raises(BankConfigError, match="not a folder"):
        load_bank_configs(tmp_path / "absent")


def test_two_files_with_the_same_code_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.toml")
    second = _write(tmp_path, GOOD, "b.toml")
    with pytest.raises(BankConfigError, match="already used") as caught:
        load_bank_configs(tmp_path)
    assert str(second) in str(caught.value)


def test_two_codes_alike_in_what_message_ids_carry_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, GOOD.replace('code = "rcb"', 'code = "huzhou_rcb_01"'), "a.toml")
    second = _write(tmp_path, GOOD.replace('code = "rcb"', 'code = "huzhou_rcb_02"'), "b.toml")
    with pytest.raises(BankConfigError, match="share their first 12 characters") as caught:
        load_bank_configs(tmp_path)
    assert str(second) in str(caught.value)
    assert "huzhou_rcb_01" in str(caught.value)
    # differing within the first twelve is fine
    _write(tmp_path, GOOD.replace('code = "rcb"', 'code = "huzhou_rcc_02"'), "b.toml")
    assert sorted(load_bank_configs(tmp_path)) == ["huzhou_rcb_01", "huzhou_rcc_02"]


def test_the_shipped_bank_files_load() -> None:
    configs = load_bank_configs(REPO / "config" / "banks")
    assert {"rcb", "rcc_iso"} <= set(configs)
