"""``huzhu keys provision`` makes the county's keys the banks' files name, so that
``huzhu sandbox-bank serve --config config/sandbox.toml`` starts on a fresh machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.security import provision
from gateway.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped config folder with no var/ beside it, used from another folder."""
    monkeypatch.setattr(provision, "RSA_BITS", 2048)  # quick; production keys are 3072 bits
    site = tmp_path / "site"
    shutil.copytree(REPO / "config", site / "config")
    monkeypatch.setenv("HUZHU_CONFIG_DIR", str(site / "config"))
    for name in ("HUZHU_CONFIG", "HUZHU_SFTP_KEY_PASSPHRASE", "HUZHU_SIGN_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HUZHU_DECRYPT_KEY_PASSPHRASE", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return site


def test_the_sandbox_on_a_fresh_machine_says_to_provision_the_keys(fresh_site: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["sandbox-bank", "serve", "--config", str(fresh_site / "config" / "sandbox.toml")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 1
    assert "huzhu keys provision" in result.output


def test_provision_makes_the_keys_the_sandbox_needs_once(fresh_site: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["keys", "provision"], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    keys = fresh_site / "var" / "keys"
    for public in ("sftp_client_ed25519.pub", "sign_rsa.pub.pem", "decrypt_rsa.pub.pem"):
        assert (keys / public).is_file(), public  # what config/sandbox.toml points at
    assert not (fresh_site / "elsewhere").exists()
    before = {p.name: p.read_bytes() for p in keys.iterdir()}
    again = runner.invoke(app, ["keys", "provision", "--bank", "rcc_iso"])
    assert again.exit_code == 0, again.output
    assert "keys already in place" in again.output
    assert {p.name: p.read_bytes() for p in keys.iterdir()} == before  # never replaced
    unknown = runner.invoke(app, ["keys", "provision", "--bank", "nope"])
    assert unknown.exit_code == 2
    assert "nope" in unknown.output
