"""A quarantined bank file in the console: its follow-up links to the file (and shows no
amount, it has none), the file's page gives the reason and, to whoever works the follow-ups,
a form to put it back to be applied (the API's reapply: same checks, same audit record);
marking the follow-up done while the file stays quarantined has to say so."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import AuditEvent
from gateway.ingestion import service as ingestion
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.payments.models import FollowUpItem
from tests.api.conftest import Seeded
from tests.api.test_access_control_matrix import add_bank_side
from tests.web.conftest import SignIn

REASON = "文件格式错误 malformed: 第 14 行字段数不符 line 14: wrong number of fields"
NOTE = "银行已确认文件完整，回盘可以处理 the bank confirmed the file is whole"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def quarantined_file(
    sessions: sessionmaker[Session], seeded: Seeded, *, reason: str = REASON
) -> dict[str, int]:
    """A result file answering a batch of the county's special account, quarantined as the
    nightly results step does (with its follow-up)."""
    with sessions() as session:
        a = session.merge(seeded.world.a)
        batch = add_bank_side(session, a, "quarantine")["batch"]
        file = InboundFile(
            bank_code=a.special_account.bank.code,
            name="RESULT_quarantined.txt",
            remote_path="out/RESULT_quarantined.txt",
            kind=InboundKind.RESULT,
            sha256="1" * 64,
            size=11,
            content=b"cut in half",
            status=InboundStatus.RECEIVED,
            business_date=date(2024, 6, 28),
            batch_id=batch,
        )
        session.add(file)
        session.flush()
        ingestion.quarantine(session, file.id, reason)
        follow_up = session.scalars(
            select(FollowUpItem.id).where(FollowUpItem.inbound_file_id == file.id)
        ).one()
        session.commit()
        return {"file": file.id, "follow_up": follow_up, "batch": batch}


@pytest.fixture
def quarantined(api_sessions: sessionmaker[Session], seeded: Seeded) -> dict[str, int]:
    return quarantined_file(api_sessions, seeded)


def follow_up_row(page: str, follow_up: int) -> str:
    row = page[page.index(f'id="follow-up-{follow_up}"') :]
    return row[: row.index("</tr>")]


def file_state(sessions: sessionmaker[Session], file_id: int) -> InboundStatus:
    with sessions() as session:
        file = session.get(InboundFile, file_id)
        assert file is not None
        return file.status


def follow_up_of(sessions: sessionmaker[Session], follow_up: int) -> FollowUpItem:
    with sessions() as session:
        item = session.get(FollowUpItem, follow_up)
        assert item is not None
        session.expunge(item)
        return item


def test_a_quarantine_follow_up_links_to_the_file_and_its_reason_and_shows_no_amount(
    browser: SignIn, quarantined: dict[str, int]
) -> None:
    client = browser("officer")
    row = follow_up_row(client.get("/console/follow-ups").text, quarantined["follow_up"])
    assert 'data-kind="file_quarantined"' in row
    assert f'href="/console/bank-files/{quarantined["file"]}"' in row
    assert "RESULT_quarantined.txt" in row
    assert "已隔离" in row
    assert '<td class="num">—</td>' in row  # no amount: it has none
    assert "0.00" not in row
    assert "查看文件并重新处理" in row

    page = client.get(f"/console/bank-files/{quarantined['file']}")
    assert page.status_code == 200
    assert f'<p id="quarantine-reason">{REASON}</p>' in page.text
    assert '<span id="file-status" data-status="quarantined">已隔离</span>' in page.text
    assert 'id="reapply-form"' in page.text
    assert f'id="file-follow-up-{quarantined["follow_up"]}"' in page.text
    assert f'href="/console/batches/{quarantined["batch"]}"' in page.text
    # the batches page and the batch lead to it too
    assert (
        f'href="/console/bank-files/{quarantined["file"]}"' in client.get("/console/batches").text
    )
    batch = client.get(f"/console/batches/{quarantined['batch']}").text
    assert f'href="/console/bank-files/{quarantined["file"]}"' in batch


def test_the_fund_office_reapplies_a_quarantined_file_from_the_console(
    browser: SignIn, quarantined: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    client = browser("officer")
    path = f"/console/bank-files/{quarantined['file']}"
    token = csrf_of(client.get(path).text)

    refused = client.post(f"{path}/reapply", data={"csrf_token": token, "note": "   "})
    assert refused.status_code == 422
    assert "重新处理须说明原因" in refused.text
    assert file_state(api_sessions, quarantined["file"]) is InboundStatus.QUARANTINED
    assert (
        client.post(f"{path}/reapply", data={"csrf_token": "x" * 43, "note": NOTE}).status_code
        == 403
    )

    done = client.post(f"{path}/reapply", data={"csrf_token": token, "note": NOTE})
    assert done.status_code == 303
    assert done.headers["location"] == f"{path}?reapplied=true"
    page = client.get(done.headers["location"]).text
    assert "已放回待处理：下一次夜间批处理将重新处理此文件" in page
    assert '<span id="file-status" data-status="received">已接收，待处理</span>' in page
    assert 'id="reapply-form"' not in page
    assert file_state(api_sessions, quarantined["file"]) is InboundStatus.RECEIVED
    follow_up = follow_up_of(api_sessions, quarantined["follow_up"])
    assert follow_up.resolved
    assert follow_up.resolved_by == "user:officer"
    assert follow_up.resolution_note == f"文件已重新处理 file reapplied: {NOTE}"
    with api_sessions() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "inbound_file.reapplied")
        ).one()
        assert event.actor == "user:officer"
        assert event.object_id == str(quarantined["file"])
        assert event.payload["quarantine_reason"] == REASON
        assert event.payload["note"] == NOTE

    again = client.post(f"{path}/reapply", data={"csrf_token": token, "note": NOTE})
    assert again.status_code == 409
    assert "未被隔离" in again.text


def test_marking_a_quarantine_follow_up_done_while_its_file_stays_quarantined_must_say_so(
    browser: SignIn, quarantined: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    client = browser("reviewer")
    page = client.get("/console/follow-ups").text
    row = follow_up_row(page, quarantined["follow_up"])
    assert 'name="keep_quarantined"' in row
    assert "文件保持隔离，不再处理" in row
    path = f"/console/follow-ups/{quarantined['follow_up']}/resolve"
    note = "银行已重新发送更正后的文件"

    refused = client.post(path, data={"csrf_token": csrf_of(page), "note": note})
    assert refused.status_code == 422
    assert "仍处于隔离状态，标记已处理不会重新处理该文件" in refused.text
    assert note in refused.text  # the note kept
    assert not follow_up_of(api_sessions, quarantined["follow_up"]).resolved

    done = client.post(
        path, data={"csrf_token": csrf_of(page), "note": note, "keep_quarantined": "1"}
    )
    assert done.status_code == 303
    assert follow_up_of(api_sessions, quarantined["follow_up"]).resolved
    assert file_state(api_sessions, quarantined["file"]) is InboundStatus.QUARANTINED


def test_only_whoever_works_the_follow_ups_may_reapply_a_file(
    browser: SignIn, quarantined: dict[str, int], api_sessions: sessionmaker[Session]
) -> None:
    client = browser("auditor")
    path = f"/console/bank-files/{quarantined['file']}"
    page = client.get(path).text
    assert f'<p id="quarantine-reason">{REASON}</p>' in page
    assert 'id="reapply-form"' not in page
    refused = client.post(f"{path}/reapply", data={"csrf_token": csrf_of(page), "note": NOTE})
    assert refused.status_code == 403
    assert file_state(api_sessions, quarantined["file"]) is InboundStatus.QUARANTINED
    # an association treasurer reads no bank files
    assert browser("treasurer_a").get(path).status_code == 403


def test_a_file_quarantined_for_its_signature_is_not_offered_for_reapplying(
    browser: SignIn, api_sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    bad = quarantined_file(
        api_sessions, seeded, reason=f"{ingestion.SECURITY_FAILED}: signature does not match"
    )
    page = browser("officer").get(f"/console/bank-files/{bad['file']}").text
    assert 'id="reapply-form"' not in page
    assert "不能重新处理：" in page
    assert "请银行重新发送" in page
