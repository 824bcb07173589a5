"""Putting a quarantined bank file back to be applied (``reapply_file``, ``huzhu files
reapply``, ``POST /api/v1/bank-files/{id}/reapply``): the county fund office, once what kept
the file from applying has changed; never a file that is not quarantined, nor one whose
signature or decryption failed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.records import CreditDebit, StatementEntry, SubAccountBalance
from adapters.security import FileSecurity, SignatureAlgorithm, Verifier
from gateway.audit.models import AuditEvent
from gateway.audit.service import county_chain, verify
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.cli import app
from gateway.errors import Conflict, ValidationFailed
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.ingestion.service import reapply_file
from gateway.jobs.pipeline import run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import FollowUpItem, FollowUpKind, InstructionStatus
from tests.settle_support import (
    DAY1,
    Settle,
    cli_environment,
    client_as,
    http_app,
    settle_in,
    statement,
)

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
DAY4 = DAY1 + timedelta(days=3)
DAY5 = DAY1 + timedelta(days=4)
SUB = "6200001-1"
STATEMENT = "STMT_6200001_20240702.txt"
NOTE = "回盘已到并已入账，退汇可处理 the result file has settled the payment"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _return_shown_before_its_result(settle: Settle) -> tuple[Loan, InboundFile]:
    """A disbursement sent on DAY1; the bank's DAY2 statement shows it returned (退汇) and
    comes the night before the result file settling it: quarantined whole on DAY3."""
    loan = settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (instruction,) = settle.instructions()
    returned = StatementEntry(
        booking_date=DAY2,
        amount_fen=400_000,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id="T9",
        sub_account=SUB,
        counterparty_name="张三",
        remittance="退汇",
        end_to_end_id=instruction.end_to_end_id,
        return_reason_code="AC04",
        bank_transaction_code="PMNT/ICDT/RRTN",
    )
    settle.bank.put_statement(
        statement(DAY2, [returned], sub_balances=[SubAccountBalance(SUB, 0, 400_000)]), STATEMENT
    )
    run_date(settle.nightly, DAY3)
    file = settle.fresh().scalars(select(InboundFile)).one()
    assert file.status is InboundStatus.QUARANTINED
    assert f"{instruction.end_to_end_id} is sent, it cannot be returned" in (file.reason or "")
    return loan, file


def _events(settle: Settle, action: str) -> list[AuditEvent]:
    return list(
        settle.fresh().scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_a_return_shown_before_its_result_applies_once_the_office_puts_the_file_back(
    settle: Settle,
) -> None:
    loan, file = _return_shown_before_its_result(settle)

    # The result file settling the payment comes, and the bank sends the statement again
    # unchanged: recognised by its hash, it stays quarantined; nothing applies it again.
    settle.bank.answer(DAY2)
    settle.server.put(f"out/{STATEMENT}", file.content)
    run_date(settle.nightly, DAY4)
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    session = settle.fresh()
    again = session.get(InboundFile, file.id)
    assert again is not None
    assert (again.status, again.times_seen) == (InboundStatus.QUARANTINED, 2)
    assert session.scalars(select(StatementLine)).all() == []

    reapply_file(session, file.id, actor="officer", note=NOTE)
    session.commit()
    put_back = settle.fresh().get(InboundFile, file.id)
    assert put_back is not None
    assert (put_back.status, put_back.reason) == (InboundStatus.RECEIVED, None)
    (event,) = _events(settle, "inbound_file.reapplied")
    assert event.actor == "officer"
    assert event.object_id == str(file.id)
    assert event.chain == county_chain(settle.world.county.id)  # the county's readers see it
    assert event.payload["note"] == NOTE
    assert "cannot be returned" in event.payload["quarantine_reason"]
    (quarantined,) = settle.fresh().scalars(
        select(FollowUpItem).where(FollowUpItem.kind == FollowUpKind.FILE_QUARANTINED)
    )
    assert quarantined.resolved
    assert quarantined.resolved_by == "officer"
    assert NOTE in (quarantined.resolution_note or "")

    run_date(settle.nightly, DAY5)
    session = settle.fresh()
    applied = session.get(InboundFile, file.id)
    assert applied is not None
    assert applied.status is InboundStatus.APPLIED
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.RETURNED
    assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == 0
    session.refresh(loan)
    assert loan.status is LoanStatus.COUNCIL_APPROVED
    kinds = [i.kind for i in session.scalars(select(FollowUpItem).order_by(FollowUpItem.id))]
    assert FollowUpKind.RETURNED_AFTER_SETTLEMENT in kinds
    assert [line.end_to_end_id for line in session.scalars(select(StatementLine))] == [
        instruction.end_to_end_id
    ]
    assert verify(session, [event.chain]).ok


def test_a_file_put_back_too_early_is_quarantined_again_with_its_reason(settle: Settle) -> None:
    _, file = _return_shown_before_its_result(settle)
    session = settle.fresh()
    reapply_file(session, file.id, actor="officer", note="试一下 trying")
    session.commit()
    run_date(settle.nightly, DAY4, ("statements",))
    session = settle.fresh()
    again = session.get(InboundFile, file.id)
    assert again is not None
    assert again.status is InboundStatus.QUARANTINED
    assert "cannot be returned" in (again.reason or "")
    items = session.scalars(
        select(FollowUpItem)
        .where(FollowUpItem.inbound_file_id == file.id)
        .order_by(FollowUpItem.id)
    ).all()
    assert [(i.kind, i.resolved) for i in items] == [
        (FollowUpKind.FILE_QUARANTINED, True),
        (FollowUpKind.FILE_QUARANTINED, False),
    ]


def test_only_a_quarantined_file_can_be_put_back_and_only_with_a_note(settle: Settle) -> None:
    _, file = _return_shown_before_its_result(settle)
    session = settle.fresh()
    with pytest.raises(ValidationFailed):
        reapply_file(session, file.id, actor="officer", note="  ")
    reapply_file(session, file.id, actor="officer", note=NOTE)
    with pytest.raises(Conflict) as refused:
        reapply_file(session, file.id, actor="officer", note=NOTE)  # received now
    assert "not quarantined" in refused.value.message_en
    session.commit()
    assert len(_events(settle, "inbound_file.reapplied")) == 1


def test_a_file_whose_signature_failed_is_never_put_back(settle: Settle) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    verifier = Verifier(SignatureAlgorithm.ED25519, key.public_key(), Path("bank.pub.pem"))
    settle.profile = dataclasses.replace(settle.profile, security=FileSecurity(verifier=verifier))
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (name,) = settle.bank.answer(DAY1)  # the bank's result file, without its signature
    run_date(settle.nightly, DAY2)
    session = settle.fresh()
    file = session.scalars(select(InboundFile).where(InboundFile.name == name)).one()
    assert (file.kind, file.status) == (InboundKind.RESULT, InboundStatus.QUARANTINED)

    with pytest.raises(Conflict) as refused:
        reapply_file(session, file.id, actor="officer", note="银行说已签名 the bank says it signed")
    assert "signature or decryption" in refused.value.message_en
    session.rollback()
    still = settle.fresh().get(InboundFile, file.id)
    assert still is not None
    assert still.status is InboundStatus.QUARANTINED
    assert _events(settle, "inbound_file.reapplied") == []


def test_the_command_puts_a_file_back_and_refuses_one_not_quarantined(
    settle: Settle, tmp_path: Path
) -> None:
    _, file = _return_shown_before_its_result(settle)
    env = cli_environment(settle, tmp_path)
    county = settle.world.county.id
    for name, role in (("officer", Role.COUNTY_OFFICER), ("auditor", Role.AUDITOR)):
        create_user(settle.session, username=name, display_name=name, role=role, county_id=county)
    settle.session.commit()
    # as in the console: only a user who may work the county's follow-ups puts a file back
    for by in ("nobody", "auditor"):
        refused = CliRunner().invoke(
            app, ["files", "reapply", str(file.id), "--by", by, "--note", NOTE], env=env
        )
        assert refused.exit_code == 1, refused.output
        assert f"--by {by}" in refused.output
    command = ["files", "reapply", str(file.id), "--by", "ＯＦＦＩＣＥＲ", "--note", NOTE]
    done = CliRunner().invoke(app, command, env=env, terminal_width=240)
    assert done.exit_code == 0, done.output
    assert "put back to be applied" in done.output
    assert "statements" in done.output
    put_back = settle.fresh().get(InboundFile, file.id)
    assert put_back is not None
    assert put_back.status is InboundStatus.RECEIVED
    (event,) = _events(settle, "inbound_file.reapplied")
    assert event.actor == "officer"

    twice = CliRunner().invoke(app, command, env=env, terminal_width=240)
    assert twice.exit_code == 1
    assert "not quarantined" in twice.output
    missing = CliRunner().invoke(
        app, ["files", "reapply", "999", "--by", "officer", "--note", NOTE], env=env
    )
    assert missing.exit_code == 1
    assert "not found" in missing.output


@pytest.fixture
def http(settle: Settle, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """The county officer's client and a county auditor's, on the API."""
    web = http_app(settle, tmp_path, console=False)
    county = settle.world.county.id
    with (
        client_as(settle, web, "officer", Role.COUNTY_OFFICER, county_id=county) as officer,
        client_as(settle, web, "auditor", Role.AUDITOR, county_id=county) as auditor,
    ):
        yield officer, auditor


def test_the_api_puts_a_file_back_for_the_office_only(
    settle: Settle, http: tuple[TestClient, TestClient]
) -> None:
    officer, auditor = http
    _, file = _return_shown_before_its_result(settle)
    url = f"/api/v1/bank-files/{file.id}/reapply"

    assert auditor.post(url, json={"note": NOTE}).status_code == 403  # reads, never works
    assert officer.post(url, json={"note": ""}).status_code == 422
    done = officer.post(url, json={"note": NOTE})
    assert done.status_code == 200, done.text
    assert (done.json()["id"], done.json()["status"]) == (file.id, "received")
    (event,) = _events(settle, "inbound_file.reapplied")
    assert event.actor == "user:officer"
    again = officer.post(url, json={"note": NOTE})
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
