"""A loan released on Friday goes out in Monday's batch: the bank is asked to pay it on
Monday, the batch's day, in every format (an ISO 20022 pain.001 refuses a batch whose date is
not the earliest of its payments')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.bankconfig import parse_bank_config
from adapters.registry import load_adapter
from adapters.security import FileSecurity
from gateway.batches.banks import BankProfile
from gateway.batches.calendar import load_calendar
from gateway.batches.models import PaymentBatch
from gateway.jobs.pipeline import run_date
from gateway.payments.models import FollowUpItem, InstructionStatus
from tests.settle_support import BANK, DAY1, REPO, Settle, bank_raw, settle_in


def _profile(adapter: str) -> BankProfile:
    raw = bank_raw()
    if adapter == "iso20022":
        raw["adapter"] = {"name": "iso20022"}
    config = parse_bank_config(raw, source=REPO / "config" / "banks" / f"{BANK}.toml")
    return BankProfile(
        config=config,
        adapter=load_adapter(
            config.adapter.name, config.adapter.options, config_dir=config.config_dir
        ),
        security=FileSecurity(),
        calendar=load_calendar(REPO / "config" / "calendar" / "cn.toml"),
    )


@pytest.fixture(params=["cn_text", "iso20022"])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    for built in settle_in(tmp_path):
        built.profile = _profile(request.param)
        built.nightly = built.make_nightly()
        yield built


def test_a_payment_released_on_friday_is_asked_for_on_monday(settle: Settle) -> None:
    loan = settle.released_loan(400_000)  # released on the county's "today", Friday 06-28
    (instruction,) = settle.instructions()
    assert instruction.requested_date < DAY1

    outcomes = run_date(settle.nightly, DAY1)  # Monday's night
    assert [o.status for o in outcomes if o.step == "batches"] == ["ran"]

    session = settle.fresh()
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.business_date == DAY1
    ((_, sent),) = [
        (path, settle.profile.adapter.parse_instructions(data))
        for path, data in settle.server.files().items()
        if path.startswith("in/") and not path.endswith((".done", ".part", ".sig"))
    ]
    assert [i.requested_date for i in sent.instructions] == [DAY1]
    assert sent.requested_date == DAY1
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT
    assert session.scalars(select(FollowUpItem)).all() == []
    assert loan.id == instruction.loan_id
