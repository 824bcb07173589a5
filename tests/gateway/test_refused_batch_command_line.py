"""``huzhu batches show|resend`` on a batch the bank refused whole (its refusal notice) or
answered: the follow-ups named by their kind in words, and no resend of bytes the bank has
already judged."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.jobs.pipeline import run_date
from tests.settle_support import DAY1, Settle, settle_in

KEY_ENV = "HUZHU_TEST_FIELD_KEY"
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def cli_env(settle: Settle, tmp_path: Path) -> dict[str, str]:
    settings_file = tmp_path / "settings.toml"
    settings_file.write_text(
        f'database_url = "{settle.engine.url.render_as_string(hide_password=False)}"\n'
        f'field_key_env = "{KEY_ENV}"\n',
        encoding="utf-8",
    )
    return {
        "HUZHU_CONFIG": str(settings_file),
        KEY_ENV: base64.b64encode(bytes(32)).decode(),
        "COLUMNS": "240",
    }


def refuse_first_batch(settle: Settle, reason: str) -> str:
    """Send one disbursement batch on DAY1; the bank refuses it; DAY2 applies the notice."""
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (path,) = settle.bank.batches()
    name = path.removeprefix("in/")
    settle.server.put(
        f"out/{name}.refused.txt",
        f"文件被拒绝 (file refused): {name}\n原因 (reason): {reason}\n".encode(),
    )
    run_date(settle.nightly, DAY2)
    return name


def test_show_names_the_refusal_follow_up_by_its_kind(
    settle: Settle, cli_env: dict[str, str]
) -> None:
    refuse_first_batch(settle, "签名不符 bad signature")
    shown = CliRunner().invoke(app, ["batches", "show", "1"], env=cli_env, terminal_width=240)
    assert shown.exit_code == 0, shown.output
    assert "银行拒收文件" in shown.output
    assert "file_refused" in shown.output
    assert "delivery_failed" not in shown.output
