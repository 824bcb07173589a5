"""``[nightly] answer_within_banking_days`` is read from the settings: the pipeline built for
``huzhu nightly`` and ``huzhu scheduler`` chases an unanswered batch after as many banking
days as configured, not after a number fixed in code."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gateway.jobs.pipeline import Nightly, run_date
from gateway.jobs.runtime import build_nightly
from gateway.payments.models import FollowUpItem, FollowUpKind
from gateway.settings import load_settings
from tests.settle_support import DAY1, Settle, settle_in

KEY_ENV = "HUZHU_TEST_FIELD_KEY"
SETTING_ENV = "HUZHU_NIGHTLY__ANSWER_WITHIN_BANKING_DAYS"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUZHU_CONFIG", SETTING_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEY_ENV, base64.b64encode(bytes(range(32))).decode())


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def configured_nightly(settle: Settle, tmp_path: Path, toml: str) -> Nightly:
    """The pipeline as ``huzhu nightly`` builds it from a settings file, on the test's
    database, in-memory bank and bank profile."""
    settings_file = tmp_path / "county.toml"
    settings_file.write_text(f'field_key_env = "{KEY_ENV}"\n{toml}', encoding="utf-8")
    settings = load_settings(config_file=settings_file)
    nightly, _ = build_nightly(
        settings,
        engine=settle.engine,
        payments=settle.payments,
        transport_factory=lambda profile: settle.server,
    )
    # the test's bank, keys and format alike, comes from its profile
    return dataclasses.replace(
        nightly, profile_loader=lambda code: settle.profile, format_loader=None
    )


def first_chased_on(settle: Settle, nightly: Nightly) -> date | None:
    """Send a batch on Monday DAY1, never answer it, run the nights to the next Monday."""
    settle.released_loan(400_000)
    for offset in range(8):
        run_date(nightly, DAY1 + timedelta(days=offset))
    items = settle.fresh().scalars(
        select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.NO_ANSWER)
    )
    days = [item.business_date for item in items]
    assert len(days) <= 1, "a batch is chased once"
    return days[0] if days else None


@pytest.mark.parametrize(
    ("toml", "chased_on"),
    [
        ("", DAY1 + timedelta(days=3)),  # default 2: Tue and Wed in time, chased Thursday
        ("[nightly]\nanswer_within_banking_days = 1\n", DAY1 + timedelta(days=2)),  # Wednesday
        # 3 banking days: Tue, Wed, Thu in time; chased Friday
        ("[nightly]\nanswer_within_banking_days = 3\n", DAY1 + timedelta(days=4)),
        # 4 banking days: Tue–Fri in time; chased the first night after, Saturday
        ("[nightly]\nanswer_within_banking_days = 4\n", DAY1 + timedelta(days=5)),
    ],
)
def test_the_configured_banking_days_decide_when_a_batch_is_chased(
    settle: Settle, tmp_path: Path, toml: str, chased_on: date
) -> None:
    nightly = configured_nightly(settle, tmp_path, toml)
    assert first_chased_on(settle, nightly) == chased_on


def test_the_environment_sets_it_too(
    settle: Settle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SETTING_ENV, "5")
    nightly = configured_nightly(settle, tmp_path, "")
    assert nightly.answer_within_banking_days == 5
    assert first_chased_on(settle, nightly) is None  # Tue–Fri and Mon: still in time


def test_the_default_is_two_banking_days_and_zero_is_refused(tmp_path: Path) -> None:
    assert load_settings().nightly.answer_within_banking_days == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[nightly]\nanswer_within_banking_days = 0\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="answer_within_banking_days"):
        load_settings(config_file=bad)
