"""A pain.002's group status (``GrpSts``) is the bank's word on the whole batch: a group
rejection rejects every instruction of the batch as a refused file does, those it lists with
their own reason code and the others with the group's; a group status contradicting the
transactions', or one saying money moved without saying which, quarantines the file whole.
A payment block answered as a whole (``PmtInfSts``, no transaction listed) is applied when it
holds the whole batch and quarantined when which instructions it holds cannot be told."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.records import Batch, BlockStatus, InstructionResult, ResultFile, ResultStatus
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundStatus
from gateway.ingestion.refusals import REFUSED_CODE
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import JournalTransaction
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import DAY1, Settle, settle_on_database, use_iso20022

DAY2 = DAY1 + timedelta(days=1)
DAY5 = DAY1 + timedelta(days=4)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    for built in settle_on_database(request, tmp_path):
        use_iso20022(built)
        yield built


def _sent(settle: Settle) -> list[Loan]:
    loans = [settle.released_loan(400_000), settle.released_loan(300_000)]
    run_date(settle.nightly, DAY1)
    return loans


def _report(
    settle: Settle,
    group_status: str,
    *,
    code: str | None = None,
    text: str = "",
    each: ResultStatus | None = None,
    listed: int | None = None,
    each_code: str | None = None,
    blocks: Callable[[Batch], tuple[BlockStatus, ...]] | None = None,
    mutate: Callable[[bytes], bytes] = bytes,
) -> str:
    """The bank's pain.002 for the sent batch: ``group_status`` and, given ``each``, every
    instruction (the first ``listed`` only, if given) with that status and ``each_code``;
    ``blocks`` gives the payment blocks answered as a whole."""
    ((path, batch),) = settle.bank.batches().items()
    settle.bank.taken.add(path)
    results = tuple(
        InstructionResult(
            end_to_end_id=i.end_to_end_id,
            status=each,
            settled_amount_fen=i.amount_fen if each is ResultStatus.SETTLED else 0,
            requested_amount_fen=i.amount_fen,
            booking_date=DAY1 if each is ResultStatus.SETTLED else None,
            reason_code=each_code,
        )
        for i in batch.instructions[:listed]
        if each is not None
    )
    report = ResultFile(
        message_id="RS20240701000001",
        original_message_id=batch.message_id,
        created_at=datetime(2024, 7, 1, 16),
        results=results,
        group_status=group_status,
        group_reason_code=code,
        group_reason_text=text,
        block_statuses=blocks(batch) if blocks is not None else (),
    )
    name = f"PAIN002_{batch.message_id}.xml"
    settle.server.put(f"out/{name}", mutate(settle.profile.adapter.render_result(report, batch)))
    return name


def _journal_count(settle: Settle) -> int:
    return settle.fresh().scalar(select(func.count()).select_from(JournalTransaction)) or 0


def _refused_whole(
    settle: Settle, name: str, loans: list[Loan]
) -> tuple[PaymentBatch, list[FollowUpItem]]:
    """The nights until the bank's answer is past due, then what every whole refusal shows:
    the file applied to its batch, the batch rejected, each loan back to approved, one
    file-refused follow-up and no "no answer" chase. The batch and the follow-ups."""
    for day in (DAY2, DAY2 + timedelta(days=1), DAY5):
        run_date(settle.nightly, day)
    session = settle.fresh()
    (file,) = session.scalars(select(InboundFile)).all()
    assert (file.name, file.status) == (name, InboundStatus.APPLIED)
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert file.batch_id == batch.id
    assert batch.status is BatchStatus.REJECTED
    for loan in loans:
        refreshed = session.get(Loan, loan.id)
        assert refreshed is not None
        assert refreshed.status in (LoanStatus.COUNCIL_APPROVED, LoanStatus.COUNTY_APPROVED)
    items = list(session.scalars(select(FollowUpItem).order_by(FollowUpItem.id)))
    kinds = [i.kind for i in items]
    assert kinds.count(FollowUpKind.FILE_REFUSED) == 1
    assert FollowUpKind.NO_ANSWER not in kinds  # the answer came: nobody is told it did not
    return batch, items


def test_a_group_rejection_rejects_every_instruction_with_the_banks_reason(
    settle: Settle,
) -> None:
    loans = _sent(settle)
    booked = _journal_count(settle)
    name = _report(settle, "RJCT", code="FF01", text="file rejected: invalid file format")

    batch, items = _refused_whole(settle, name, loans)

    assert "FF01" in (batch.last_error or "")
    assert "invalid file format" in (batch.last_error or "")
    for instruction in settle.instructions():
        assert instruction.status is InstructionStatus.FAILED
        assert instruction.reason_code == "FF01"
        assert "invalid file format" in (instruction.reason_text or "")
    assert [i.kind for i in items].count(FollowUpKind.DISBURSEMENT_FAILED) == 2
    (refused,) = [i for i in items if i.kind is FollowUpKind.FILE_REFUSED]
    assert refused.reason_code == REFUSED_CODE
    assert "FF01" in refused.message_en
    assert "invalid file format" in refused.message_en
    assert _journal_count(settle) == booked


def test_a_group_rejection_contradicting_settled_transactions_is_quarantined(
    settle: Settle,
) -> None:
    _sent(settle)
    booked = _journal_count(settle)
    name = _report(settle, "RJCT", code="FF01", each=ResultStatus.SETTLED)

    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    (file,) = session.scalars(select(InboundFile)).all()
    assert (file.name, file.status) == (name, InboundStatus.QUARANTINED)
    assert "GrpSts RJCT" in (file.reason or "")
    assert "HZD" in (file.reason or "")  # the instruction whose status contradicts it
    assert {i.status for i in settle.instructions()} == {InstructionStatus.SENT}
    assert _journal_count(settle) == booked
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert batch.status is BatchStatus.SENT
    assert file.batch_id == batch.id  # the batch shows an answer came, quarantined


def test_a_group_settlement_contradicting_rejected_transactions_is_quarantined(
    settle: Settle,
) -> None:
    _sent(settle)
    _report(settle, "ACSC", each=ResultStatus.REJECTED)

    run_date(settle.nightly, DAY2)

    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.QUARANTINED
    assert "GrpSts ACSC" in (file.reason or "")
    assert {i.status for i in settle.instructions()} == {InstructionStatus.SENT}


@pytest.mark.parametrize("group_status", ["ACSC", "PART"])
def test_a_group_settlement_without_transactions_is_quarantined(
    settle: Settle, group_status: str
) -> None:
    _sent(settle)
    booked = _journal_count(settle)
    _report(settle, group_status)

    run_date(settle.nightly, DAY2)

    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.QUARANTINED
    assert f"GrpSts {group_status}" in (file.reason or "")
    assert "no transaction status" in (file.reason or "")
    assert {i.status for i in settle.instructions()} == {InstructionStatus.SENT}
    assert _journal_count(settle) == booked


def test_a_group_acceptance_without_transactions_accepts_every_instruction(
    settle: Settle,
) -> None:
    _sent(settle)
    booked = _journal_count(settle)
    _report(settle, "ACCP")

    run_date(settle.nightly, DAY2)

    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.APPLIED
    assert {i.status for i in settle.instructions()} == {InstructionStatus.ACCEPTED}
    assert _journal_count(settle) == booked


def test_a_group_rejection_listing_some_instructions_rejects_the_whole_batch(
    settle: Settle,
) -> None:
    loans = _sent(settle)
    booked = _journal_count(settle)
    name = _report(
        settle,
        "RJCT",
        code="FF01",
        text="file rejected: invalid file format",
        each=ResultStatus.REJECTED,
        listed=1,
        each_code="AC04",
    )

    _, items = _refused_whole(settle, name, loans)

    listed, unlisted = settle.instructions()
    assert listed.status is InstructionStatus.FAILED
    assert listed.reason_code == "AC04"  # its own reason
    assert unlisted.status is InstructionStatus.FAILED  # not left sent until the chase
    assert unlisted.reason_code == "FF01"  # the group's reason
    assert "invalid file format" in (unlisted.reason_text or "")
    assert [i.kind for i in items].count(FollowUpKind.DISBURSEMENT_FAILED) == 2
    assert _journal_count(settle) == booked


def _block_rejected(batch: Batch) -> tuple[BlockStatus, ...]:
    """The batch's one payment block rejected as a whole, no instruction listed."""
    return (
        BlockStatus(
            block_id=batch.message_id,
            status="RJCT",
            reason_code="AM04",
            reason_text="insufficient funds in the debtor account",
        ),
    )


def test_a_payment_block_rejected_whole_rejects_its_instructions(settle: Settle) -> None:
    loans = _sent(settle)
    booked = _journal_count(settle)
    name = _report(settle, "RJCT", blocks=_block_rejected, mutate=_without_group_status)

    batch, _ = _refused_whole(settle, name, loans)

    assert "PmtInfSts RJCT" in (batch.last_error or "")
    for instruction in settle.instructions():
        assert instruction.status is InstructionStatus.FAILED
        assert instruction.reason_code == "AM04"
        assert "insufficient funds" in (instruction.reason_text or "")
    assert _journal_count(settle) == booked


def test_a_payment_block_rejected_whole_beside_a_group_acceptance_is_quarantined(
    settle: Settle,
) -> None:
    _sent(settle)
    _report(settle, "ACCP", blocks=_block_rejected)

    run_date(settle.nightly, DAY2)

    (file,) = settle.fresh().scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.QUARANTINED
    assert "PmtInfSts RJCT contradicts group status GrpSts ACCP" in (file.reason or "")
    assert {i.status for i in settle.instructions()} == {InstructionStatus.SENT}


def test_a_payment_block_rejected_whole_that_cannot_be_mapped_is_quarantined(
    settle: Settle,
) -> None:
    """A block saying it holds 1 instruction of a batch of 2: which one is not said."""
    _sent(settle)
    booked = _journal_count(settle)

    def one_of_two(raw: bytes) -> bytes:
        raw = _without_group_status(raw)
        at = raw.rindex(b"<OrgnlNbOfTxs>2</OrgnlNbOfTxs>")  # the block's, after the group's
        return raw[:at] + b"<OrgnlNbOfTxs>1</OrgnlNbOfTxs>" + raw[at + 30 :]

    _report(settle, "RJCT", blocks=_block_rejected, mutate=one_of_two)

    run_date(settle.nightly, DAY2)

    session = settle.fresh()
    (file,) = session.scalars(select(InboundFile)).all()
    assert file.status is InboundStatus.QUARANTINED
    reason = file.reason or ""
    assert "rejects payment block" in reason
    assert "PmtInfSts RJCT" in reason
    assert "holds 1 instruction(s) of the 2" in reason
    assert "cannot be told" in reason
    assert {i.status for i in settle.instructions()} == {InstructionStatus.SENT}
    assert _journal_count(settle) == booked
    (batch,) = session.scalars(select(PaymentBatch)).all()
    assert file.batch_id == batch.id


def _without_group_status(raw: bytes) -> bytes:
    """The report as a bank writes it when only the payment block has a status."""
    start = raw.index(b"<GrpSts>")
    end = raw.index(b"</GrpSts>") + len(b"</GrpSts>")
    return raw[:start] + raw[end:]
