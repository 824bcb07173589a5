"""A loan released on Friday goes out in Monday's batch: the bank is asked to pay it on
Monday, the batch's day, in every format (an ISO 20022 pain.001 refuses a batch whose date is
not the earliest of its payments'). A night run on a later day (caught up, or by hand) asks
the bank to pay on that day, or its next banking day, never on a day gone by; the file keeps
its business date's name and number."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.bankconfig import parse_bank_config
from adapters.records import Batch
from adapters.registry import load_adapter
from adapters.security import FileSecurity
from gateway.batches.banks import BankProfile
from gateway.batches.calendar import load_calendar
from gateway.batches.models import PaymentBatch
from gateway.jobs.pipeline import run_date, run_through
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


def _sent(settle: Settle) -> dict[str, Batch]:
    return {
        path: settle.profile.adapter.parse_instructions(data)
        for path, data in settle.server.files().items()
        if path.startswith("in/") and not path.endswith((".done", ".part", ".sig"))
    }


def test_a_night_caught_up_on_wednesday_asks_the_bank_to_pay_on_wednesday(
    settle: Settle,
) -> None:
    friday = DAY1 - timedelta(days=3)
    run_date(settle.nightly, friday)  # the first night ever run
    settle.released_loan(400_000)  # released Friday, due to go out Monday
    wednesday = DAY1 + timedelta(days=2)  # the machine was off Monday and Tuesday
    settle.today = wednesday

    run_through(settle.nightly, wednesday)

    (batch,) = settle.fresh().scalars(select(PaymentBatch)).all()
    assert (batch.business_date, batch.file_name) == (DAY1, "DF_tbank_20240701_001.txt")
    ((path, sent),) = _sent(settle).items()
    assert path.endswith("DF_tbank_20240701_001.txt")  # named, numbered by its business date
    assert sent.requested_date == wednesday  # never Monday, a day gone by
    assert [i.requested_date for i in sent.instructions] == [wednesday]
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SENT


def test_a_friday_run_by_hand_on_saturday_asks_for_monday(settle: Settle) -> None:
    settle.released_loan(400_000)
    friday = DAY1 + timedelta(days=4)  # 2024-07-05
    settle.today = friday + timedelta(days=1)  # run on the Saturday, the bank closed

    run_date(settle.nightly, friday)

    ((_, sent),) = _sent(settle).items()
    monday = friday + timedelta(days=3)
    assert sent.requested_date == monday
    assert [i.requested_date for i in sent.instructions] == [monday]
