"""A batch's history through the API and the console: a refusal notice shows the batch
refused whole, never "answered"; a quarantined or unprocessed bank file about a batch does not
answer it either; a result file applied does."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.records import InstructionResult, ResultStatus
from gateway.auth.models import Role
from gateway.batches.endpoints import BatchStep
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.jobs.pipeline import run_date
from gateway.web.i18n import BATCH_STATE_LABELS, batch_state_label
from tests.settle_support import DAY1, Settle, client_as, http_app, settle_in

DAY2 = DAY1 + timedelta(days=1)
REASON = "签名或加密不符 bad signature"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def officer(settle: Settle, tmp_path: Path) -> Iterator[TestClient]:
    """The county officer's client on the app (API and console) over the test's database."""
    app = http_app(settle, tmp_path)
    with client_as(
        settle, app, "officer", Role.COUNTY_OFFICER, county_id=settle.world.county.id
    ) as client:
        yield client


def send_one_batch(settle: Settle) -> tuple[int, str]:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    (path,) = settle.bank.batches()
    batch = settle.fresh().scalars(select(PaymentBatch)).one()
    return batch.id, path.removeprefix("in/")


def states(client: TestClient, batch_id: int) -> list[str]:
    response = client.get(f"/api/v1/batches/{batch_id}")
    assert response.status_code == 200, response.text
    return [step["state"] for step in response.json()["history"]]


def test_a_refusal_notice_shows_the_batch_refused_not_answered(
    settle: Settle, officer: TestClient
) -> None:
    batch_id, name = send_one_batch(settle)
    notice = f"{name}.refused.txt"
    settle.server.put(
        f"out/{notice}", f"文件被拒绝 (file refused): {name}\n原因 (reason): {REASON}\n".encode()
    )
    run_date(settle.nightly, DAY2)

    shown = officer.get(f"/api/v1/batches/{batch_id}").json()
    assert shown["status"] == "rejected"
    assert [step["state"] for step in shown["history"]] == ["stored", "sent", "rejected"]
    refused = shown["history"][-1]
    assert notice in refused["detail"]
    assert REASON in refused["detail"]
    assert len(shown["result_file_ids"]) == 1

    page = officer.get(f"/console/batches/{batch_id}")
    assert page.status_code == 200
    assert 'data-status="rejected"' in page.text
    assert "银行拒收整份文件" in page.text
    assert "银行已回盘" not in page.text
    listed = officer.get("/console/batches")
    assert "银行拒收整份文件" in listed.text
    officer.cookies.set("lang", "en")
    english = officer.get(f"/console/batches/{batch_id}")
    assert "Refused whole by the bank" in english.text
    assert "Answered by the bank" not in english.text


def test_an_applied_result_file_answers_the_batch(settle: Settle, officer: TestClient) -> None:
    batch_id, _ = send_one_batch(settle)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2)
    assert states(officer, batch_id) == ["stored", "sent", "answered"]
    page = officer.get(f"/console/batches/{batch_id}")
    assert "银行已回盘" in page.text
    assert "银行拒收整份文件" not in page.text


@pytest.mark.parametrize(
    ("kind", "status", "state", "words"),
    [
        (InboundKind.RESULT, InboundStatus.QUARANTINED, "file_quarantined", "银行来文已隔离"),
        (InboundKind.REFUSAL, InboundStatus.QUARANTINED, "file_quarantined", "银行来文已隔离"),
        (InboundKind.RESULT, InboundStatus.RECEIVED, "file_received", "银行来文已接收"),
    ],
)
def test_a_bank_file_that_was_not_applied_does_not_answer_the_batch(
    settle: Settle,
    officer: TestClient,
    kind: InboundKind,
    status: InboundStatus,
    state: str,
    words: str,
) -> None:
    batch_id, name = send_one_batch(settle)
    session = settle.fresh()
    content = b"RESULT|truncated"
    quarantined = status is InboundStatus.QUARANTINED
    session.add(
        InboundFile(
            bank_code=settle.profile.code,
            name=f"RESULT_{name}",
            remote_path=f"out/RESULT_{name}",
            kind=kind,
            sha256=hashlib.sha256(content).hexdigest(),
            size=len(content),
            content=content,
            status=status,
            reason="文件格式错误 malformed: truncated" if quarantined else None,
            business_date=DAY2,
            batch_id=batch_id,
        )
    )
    session.commit()

    shown = officer.get(f"/api/v1/batches/{batch_id}").json()
    assert shown["status"] == "sent"
    assert [step["state"] for step in shown["history"]] == ["stored", "sent", state]
    assert f"RESULT_{name}" in shown["history"][-1]["detail"]
    if quarantined:
        assert "truncated" in shown["history"][-1]["detail"]
    page = officer.get(f"/console/batches/{batch_id}")
    assert words in page.text
    assert "银行已回盘" not in page.text


def test_every_batch_state_and_step_has_words_in_both_languages() -> None:
    assert set(BATCH_STATE_LABELS) == {step.value for step in BatchStep}
    assert {status.value for status in BatchStatus} <= set(BATCH_STATE_LABELS)
    assert batch_state_label("zh", "rejected") == "银行拒收整份文件"
    assert batch_state_label("en", "rejected") == "Refused whole by the bank"


def test_a_quarantined_answer_shows_on_the_batch_it_names(
    settle: Settle, officer: TestClient
) -> None:
    """The bank answered, but its result file names an instruction the batch does not hold:
    the file is quarantined whole, and the batch shows that an answer came and was
    quarantined (it stays sent: nothing of the answer was applied)."""
    batch_id, _ = send_one_batch(settle)
    (sent,) = settle.bank.batches().values()
    (only,) = sent.instructions
    stranger = dataclasses.replace(only, end_to_end_id="HZD999999999901")
    settle.bank.put_result(
        dataclasses.replace(sent, instructions=(stranger,)),
        [InstructionResult("HZD999999999901", ResultStatus.SETTLED, only.amount_fen)],
        DAY1,
    )
    run_date(settle.nightly, DAY2)

    shown = officer.get(f"/api/v1/batches/{batch_id}").json()
    assert shown["status"] == "sent"
    assert [step["state"] for step in shown["history"]] == ["stored", "sent", "file_quarantined"]
    assert "HZD999999999901" in shown["history"][-1]["detail"]
    page = officer.get(f"/console/batches/{batch_id}")
    assert "银行来文已隔离" in page.text
    assert "银行已回盘" not in page.text


def test_a_quarantined_file_that_names_no_batch_of_ours_is_linked_to_none(
    settle: Settle,
) -> None:
    send_one_batch(settle)
    (sent,) = settle.bank.batches().values()
    (only,) = sent.instructions
    settle.bank.put_result(
        dataclasses.replace(sent, message_id="NOT-OURS-001"),
        [InstructionResult(only.end_to_end_id, ResultStatus.SETTLED, only.amount_fen)],
        DAY1,
    )
    run_date(settle.nightly, DAY2)
    (stored,) = settle.fresh().scalars(select(InboundFile)).all()
    assert stored.status is InboundStatus.QUARANTINED
    assert stored.batch_id is None
