"""Bank configuration: the shipped bank files, and what a good file gives its users."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from adapters.bankconfig import BankConfig, SignAlgorithm, load_bank_config, load_bank_configs
from adapters.records import Direction, FileKind
from adapters.transport import InboundAction, RetryingTransport, SftpTransport

REPO = Path(__file__).resolve().parents[2]
BANKS = REPO / "config" / "banks"


@pytest.fixture(scope="module")
def shipped() -> dict[str, BankConfig]:
    return load_bank_configs(BANKS, root=REPO)


def test_the_two_shipped_banks_load(shipped: dict[str, BankConfig]) -> None:
    assert sorted(shipped) == ["rcb", "rcc_iso"]
    rcb, rcc = shipped["rcb"], shipped["rcc_iso"]
    assert rcb.adapter.name == "cn_text"
    assert rcb.adapter.options == {"layout": "layouts/rcb_pipe.toml"}
    assert (rcb.config_dir / rcb.adapter.options["layout"]).is_file()
    assert rcc.adapter.name == "iso20022"
    assert rcb.bank.zone.key == "Asia/Shanghai"
    for bank in shipped.values():
        assert bank.sftp.host == "127.0.0.1"
        assert bank.sftp.private_key_path.is_relative_to(REPO / "var")
        assert bank.sftp.known_hosts_path.is_relative_to(REPO / "var")


def test_upload_conventions_follow_each_bank(shipped: dict[str, BankConfig]) -> None:
    rcb = shipped["rcb"].sftp.conventions()
    assert (rcb.marker_suffix, rcb.checksum_suffix) == (".done", ".sha256")
    rcc = shipped["rcc_iso"].sftp.conventions()
    assert (rcc.marker_suffix, rcc.checksum_suffix) == (".ok", None)
    assert rcc.processed_folder == "out/processed"
    assert shipped["rcb"].sftp.after_fetch is InboundAction.MOVE
    assert shipped["rcb"].sftp.inbound_marker_suffix == ".done"
    assert shipped["rcc_iso"].inbound_patterns()[FileKind.STATEMENT][0] == "CAMT053_*.xml"


def test_batch_file_names_carry_bank_date_and_sequence(shipped: dict[str, BankConfig]) -> None:
    rcb = shipped["rcb"]
    name = rcb.files.batch_file_name(Direction.DISBURSEMENT, date(2026, 3, 2), 7, rcb.code)
    assert name == "DF_rcb_20260302_007.txt"
    rcc = shipped["rcc_iso"]
    name = rcc.files.batch_file_name(Direction.COLLECTION, date(2026, 12, 31), 12, rcc.code)
    assert name == "PAIN008_rcc_iso_20261231_0012.xml"
    with pytest.raises(ValueError, match="outside"):
        rcb.files.batch_file_name(Direction.COLLECTION, date(2026, 3, 2), 1000, rcb.code)


def test_security_cutoff_and_limits(shipped: dict[str, BankConfig]) -> None:
    rcc = shipped["rcc_iso"]
    assert rcc.security.sign is SignAlgorithm.RSA_PSS_SHA256
    assert rcc.security.encrypt
    assert rcc.security.decrypt_key_passphrase_env == "HUZHU_DECRYPT_KEY_PASSPHRASE"
    rcb = shipped["rcb"]
    assert rcb.cutoff.collection == time(15, 30)
    assert rcb.limits.max_amount_fen_per_file == 50_000_000_000


def test_open_transport_is_sftp_behind_retries(shipped: dict[str, BankConfig]) -> None:
    transport = shipped["rcb"].open_transport()
    assert isinstance(transport, RetryingTransport)
    assert isinstance(transport.inner, SftpTransport)
    assert transport.inner.settings.port == 2222
    assert "rcb_county@[127.0.0.1]:2222" in repr(transport)


def test_relative_paths_resolve_against_the_root_and_absolute_ones_stay(tmp_path: Path) -> None:
    text = (BANKS / "rcb.toml").read_text(encoding="utf-8")
    text = text.replace('"var/sandbox/known_hosts"', '"/etc/huzhu/known_hosts"')
    path = tmp_path / "rcb.toml"
    path.write_text(text, encoding="utf-8")
    config = load_bank_config(path, root=Path("/srv/huzhu"))
    assert config.sftp.private_key_path == Path("/srv/huzhu/var/keys/sftp_client_ed25519")
    assert config.sftp.known_hosts_path == Path("/etc/huzhu/known_hosts")
    assert config.config_dir == tmp_path


def test_passphrase_is_read_from_the_environment_and_masked(
    shipped: dict[str, BankConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUZHU_SFTP_KEY_PASSPHRASE", "不可外泄-secret")
    secret = shipped["rcb"].sftp.passphrase()
    assert secret is not None
    assert secret.get_secret_value() == "不可外泄-secret"
    assert "不可外泄" not in repr(secret) + str(secret) + repr(shipped["rcb"])
    monkeypatch.delenv("HUZHU_SFTP_KEY_PASSPHRASE")
    assert shipped["rcb"].sftp.passphrase() is None


def test_unknown_tables_are_kept_for_later_readers(tmp_path: Path) -> None:
    text = (BANKS / "rcb.toml").read_text(encoding="utf-8")
    path = tmp_path / "rcb.toml"
    path.write_text(text + '\n[calendar]\nsource = "pboc"\n', encoding="utf-8")
    assert load_bank_config(path).extra_tables == {"calendar": {"source": "pboc"}}


def test_each_shipped_bank_builds_its_adapter(shipped: dict[str, BankConfig]) -> None:
    from adapters.registry import load_adapter

    for bank in shipped.values():
        adapter = load_adapter(bank.adapter.name, bank.adapter.options, config_dir=bank.config_dir)
        assert adapter.name == bank.adapter.name
