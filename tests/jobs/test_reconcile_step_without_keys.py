"""The nightly reconcile step reads the statements already fetched with the bank's file format
and calendar only: on a night the bank's keys cannot be read, fetching and sending fail (and
say why, whole), while reconciliation still runs, as ``huzhu reconcile`` would."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from gateway.cli import app
from gateway.jobs.pipeline import run_date
from gateway.jobs.runtime import build_nightly
from gateway.settings import load_settings
from tests.settle_support import BANK, DAY1, REPO, Settle, settle_in

KEY_ENV = "HUZHU_TEST_FIELD_KEY"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def settings_file(settle: Settle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The repository's configuration for the test bank, its signing key named but missing."""
    monkeypatch.delenv("HUZHU_CONFIG", raising=False)
    monkeypatch.setenv(KEY_ENV, base64.b64encode(bytes(range(32))).decode())
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    missing = tmp_path / "keys" / "sign_ed25519.pem"
    bank_file = (config_dir / "banks" / "rcb.toml").read_text(encoding="utf-8")
    bank_file = bank_file.replace('code = "rcb"', f'code = "{BANK}"')
    bank_file = bank_file.replace('"var/keys/sign_ed25519.pem"', f'"{missing}"')
    (config_dir / "banks" / f"{BANK}.toml").write_text(bank_file, encoding="utf-8")
    path = tmp_path / "county.toml"
    path.write_text(
        f'field_key_env = "{KEY_ENV}"\nconfig_dir = "{config_dir}"\n'
        f'database_url = "{settle.engine.url.render_as_string(hide_password=False)}"\n',
        encoding="utf-8",
    )
    return path


def test_a_night_without_the_signing_key_still_reconciles(
    settle: Settle, settings_file: Path
) -> None:
    nightly, _ = build_nightly(
        load_settings(config_file=settings_file),
        engine=settle.engine,
        payments=settle.payments,
        transport_factory=lambda profile: settle.server,
    )

    fetch, reconcile, batches = run_date(nightly, DAY1, ("fetch", "reconcile", "batches"))

    for step in (fetch, batches):
        assert step.status == "failed"
        assert step.error is not None
        assert "sign_ed25519.pem" in step.error
    assert reconcile.status == "ran", reconcile.error
    (account,) = reconcile.summary["accounts"]
    assert account["business_date"] == "2024-06-30"


def test_huzhu_nightly_prints_the_whole_error_and_what_reconciliation_did(
    settle: Settle, settings_file: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["nightly", "--date", DAY1.isoformat(), "--steps", "fetch,reconcile"],
        env={"HUZHU_CONFIG": str(settings_file), "COLUMNS": "80"},
    )
    assert result.exit_code == 1  # a step failed
    table = result.stdout.splitlines()
    assert max(cell_len(line) for line in table) <= 80
    # the missing key's path, folded over lines of the summary column but not cut short
    summary_column = "".join(line.split("│")[-2].strip() for line in table if "│" in line)
    assert str(tmp_path / "keys" / "sign_ed25519.pem") in summary_column
    assert "2024-06-30 专户 #" in summary_column
    assert "差错 exceptions" in summary_column
    assert "'special_account_id'" not in result.stdout
