"""``huzhu batches show|resend`` on a batch the bank refused whole (its refusal notice) or
answered: the follow-ups named by their kind in words, and no resend of bytes the bank has
already judged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.batches.sender import resend
from gateway.cli import app
from gateway.errors import Conflict
from gateway.jobs.pipeline import run_date
from gateway.payments import service as payments
from gateway.payments.models import InstructionStatus
from tests.settle_support import DAY1, Settle, cli_environment, settle_in

DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def cli_env(settle: Settle, tmp_path: Path) -> dict[str, str]:
    return cli_environment(settle, tmp_path)


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


def test_resend_of_a_refused_batch_is_refused_and_nothing_reaches_the_bank(
    settle: Settle, cli_env: dict[str, str]
) -> None:
    name = refuse_first_batch(settle, "专户账号不符 wrong special account")
    # the bank cleared its folder: a resend would have to upload the refused bytes again
    settle.server.delete(f"in/{name}")
    settle.server.delete(f"in/{name}.done")
    before = settle.server.files()

    refused = CliRunner().invoke(app, ["batches", "resend", "1"], env=cli_env, terminal_width=240)
    assert refused.exit_code == 1, refused.output
    said = "".join(refused.output.split())  # as printed, wrapped at any character
    assert "银行已拒收批次文件" in said
    assert "wrongspecialaccount" in said
    assert "gooutinanewbatchunderanewfilename" in said
    with pytest.raises(Conflict) as caught:
        resend(settle.factory, settle.profile, settle.server, 1, business_date=DAY2)
    assert caught.value.code == "batch_refused"
    assert settle.server.files() == before
    (batch,) = settle.fresh().scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.REJECTED


def test_a_refused_batch_is_corrected_by_a_new_batch_under_a_new_name(settle: Settle) -> None:
    name = refuse_first_batch(settle, "签名不符 bad signature")
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.FAILED
    # the county checks the loan and releases it again: a new instruction, a new batch
    assert instruction.loan_id is not None
    payments.release_loan(settle.session, instruction.loan_id, on=DAY2)
    settle.session.commit()
    run_date(settle.nightly, DAY2 + timedelta(days=1))

    session = settle.fresh()
    first, second = session.scalars(select(PaymentBatch).order_by(PaymentBatch.id)).all()
    assert first.file_name == name
    assert first.status is BatchStatus.REJECTED
    assert second.file_name != name
    assert second.status is BatchStatus.SENT
    assert second.sha256 != first.sha256
    assert f"in/{second.file_name}" in settle.server.files()
    old, new = settle.instructions()
    assert (old.status, new.status) == (InstructionStatus.FAILED, InstructionStatus.SENT)
    assert new.batch_id == second.id
    assert new.loan_id == old.loan_id


def test_a_refusal_notice_not_yet_applied_already_stops_a_resend(settle: Settle) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (path,) = settle.bank.batches()
    name = path.removeprefix("in/")
    settle.server.put(f"out/{name}.refused.txt", f"文件被拒绝: {name}\n原因: 无法解密\n".encode())
    run_date(settle.nightly, DAY2, steps=["fetch"])  # stored, not applied yet
    (batch,) = settle.fresh().scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.SENT
    with pytest.raises(Conflict) as caught:
        resend(settle.factory, settle.profile, settle.server, batch.id, business_date=DAY2)
    assert caught.value.code == "batch_refused"


def test_resend_of_an_answered_batch_is_refused(settle: Settle, cli_env: dict[str, str]) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)
    refused = CliRunner().invoke(app, ["batches", "resend", "1"], env=cli_env, terminal_width=240)
    assert refused.exit_code == 1, refused.output
    said = "".join(refused.output.split())
    assert "银行已回盘批次" in said
    assert "thebankhasansweredbatch" in said
