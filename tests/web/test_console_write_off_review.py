"""Deciding a write-off request on the console's queue item page: the request's amount and
grounds are shown in the review section, the requester's own approval is refused beside the
form, another person's approval books the write-off and a rejection needs a reason."""

from __future__ import annotations

import re

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth.models import User
from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue.models import ItemStatus, QueueItem
from tests.api.conftest import Seeded
from tests.api.test_queue_write_off_review import TAKEN_FEN, file_withdrawal
from tests.web.conftest import SignIn
from tests.web.test_console_queue import csrf_of

GROUNDS = "冒名转出，无法追回"


def request_on_console(browser: SignIn, item_id: int) -> None:
    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    asked = officer.post(
        f"/console/queue/{item_id}/resolve",
        data={"csrf_token": csrf_of(page), "action": "write_off", "note": GROUNDS},
    )
    assert asked.status_code == 303, asked.text


def offered_actions(page: str) -> set[str]:
    return set(re.findall(r'name="action" value="([a-z_]+)"', page))


def test_requester_is_refused_and_another_reviewer_books_the_write_off(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    a = seeded.world.a.id
    with api_sessions.begin() as session:
        session.execute(
            update(User).where(User.username == "officer").values(display_name="张科长")
        )
    item_id = file_withdrawal(api_sessions, a)
    request_on_console(browser, item_id)

    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    assert 'id="review-form"' in page
    assert "核销待审" in page
    request = re.search(r'<p id="review-request">(.*?)</p>', page, re.S)
    assert request, page
    # the requester by name, with the user name beside it: not the audit log's "user:officer"
    assert "申请人: <strong>张科长（officer）</strong>" in request.group(1)
    assert "user:" not in request.group(1)
    assert "450.00" in request.group(1)
    assert GROUNDS in request.group(1)
    # the item waits for a decision, and its money is still open: the resolve form offers
    # nothing (a dismissal would drop the money), and says why
    assert offered_actions(page) == set()
    assert 'id="resolve-none"' in page

    own = officer.post(
        f"/console/queue/{item_id}/review",
        data={"csrf_token": csrf_of(page), "decision": "approve", "note": "同意"},
        headers={"Accept": "text/html"},
    )
    assert own.status_code == 422
    refusal = re.search(r'<div class="form-errors"[^>]*id="review-errors".*?</div>', own.text, re.S)
    assert refusal, own.text
    assert "核销申请须由申请人以外的另一人审批" in refusal.group(0)
    assert "decided by someone other than the person who made it" in refusal.group(0)
    assert 'data-code="second_person_required"' in refusal.group(0)
    assert own.text.index('id="review-errors"') < own.text.index('id="review-form"')

    officer.get("/lang/en")
    english = officer.post(
        f"/console/queue/{item_id}/review",
        data={"csrf_token": csrf_of(page), "decision": "approve"},
        headers={"Accept": "text/html"},
    )
    assert english.status_code == 422
    assert "decision (write-off request)" in english.text
    assert "Requested by: <strong>张科长 (officer)</strong>" in english.text
    assert "decided by someone other than the person who made it" in english.text
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert item.status is ItemStatus.WRITE_OFF_REVIEW
        assert ledger.balance(session, a, AccountCode.WRITE_OFF) == 0

    reviewer = browser("reviewer")
    reviewer_page = reviewer.get(f"/console/queue/{item_id}").text
    approved = reviewer.post(
        f"/console/queue/{item_id}/review",
        data={"csrf_token": csrf_of(reviewer_page), "decision": "approve"},
    )
    assert approved.status_code == 303, approved.text
    assert f'href="/console/queue/{item_id}"' not in reviewer.get("/console/queue").text
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert (item.status, item.resolved_by, item.approved_by) == (
            ItemStatus.RESOLVED,
            "user:officer",
            "user:reviewer",
        )
        assert ledger.balance(session, a, AccountCode.WRITE_OFF) == TAKEN_FEN
    done = reviewer.get(f"/console/queue/{item_id}").text
    assert 'id="review-form"' not in done


def test_rejection_needs_a_reason_and_reopens_the_item(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    item_id = file_withdrawal(api_sessions, seeded.world.a.id)
    request_on_console(browser, item_id)

    reviewer = browser("reviewer")
    page = reviewer.get(f"/console/queue/{item_id}").text
    bare = reviewer.post(
        f"/console/queue/{item_id}/review",
        data={"csrf_token": csrf_of(page), "decision": "return", "note": "  "},
        headers={"Accept": "text/html"},
    )
    assert bare.status_code == 422
    assert "退回须说明原因" in bare.text
    assert "a rejection needs a reason" in bare.text
    assert 'id="review-form"' in bare.text  # still waiting for a decision

    returned = reviewer.post(
        f"/console/queue/{item_id}/review",
        data={"csrf_token": csrf_of(page), "decision": "return", "note": "请先向银行核实"},
    )
    assert returned.status_code == 303
    reopened = reviewer.get(returned.headers["location"]).text
    assert 'id="review-form"' not in reopened
    assert "write_off" in offered_actions(reopened)  # open again: every resolution offered
    assert "请先向银行核实" in reopened  # the history keeps the rejection
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert (item.status, item.proposal_json, item.resolution) == (ItemStatus.OPEN, None, None)


def test_write_off_request_waits_on_the_reviewers_work_list_and_dashboard(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """The reviewer opens 差异队列 without a filter, as every day: the request waiting for them
    is there, in its state, and the dashboard's open-items chart counts it."""
    item_id = file_withdrawal(api_sessions, seeded.world.a.id)
    request_on_console(browser, item_id)

    reviewer = browser("reviewer")
    listing = reviewer.get("/console/queue").text
    row = re.search(
        rf'<tr[^>]*>\s*<td><a data-item href="/console/queue/{item_id}">.*?</tr>', listing, re.S
    )
    assert row, "the write-off request is missing from the default work list"
    assert "核销待审" in row.group(0)
    chart = reviewer.get("/console").text.split('<svg class="chart"')[2]
    assert "银行流水未匹配" in chart.split("</svg>")[0]


def test_reviewers_note_on_approval_is_shown_in_the_items_history(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    item_id = file_withdrawal(api_sessions, seeded.world.a.id)
    request_on_console(browser, item_id)
    reviewer = browser("reviewer")
    page = reviewer.get(f"/console/queue/{item_id}").text
    note = "同意核销，已核对银行回单第88号"
    approved = reviewer.post(
        f"/console/queue/{item_id}/review",
        data={"csrf_token": csrf_of(page), "decision": "approve", "note": note},
    )
    assert approved.status_code == 303
    history = reviewer.get(f"/console/queue/{item_id}").text.split('id="history-h"')[1]
    assert note in history
    assert note in reviewer.get("/console/audit").text


def test_second_click_on_approve_says_it_was_already_decided(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    a = seeded.world.a.id
    with api_sessions.begin() as session:
        session.execute(
            update(User).where(User.username == "officer").values(display_name="张科长")
        )
    item_id = file_withdrawal(api_sessions, a)
    request_on_console(browser, item_id)
    reviewer = browser("reviewer")
    page = reviewer.get(f"/console/queue/{item_id}").text
    form = {"csrf_token": csrf_of(page), "decision": "approve"}
    assert reviewer.post(f"/console/queue/{item_id}/review", data=form).status_code == 303
    again = reviewer.post(
        f"/console/queue/{item_id}/review", data=form, headers={"Accept": "text/html"}
    )
    assert again.status_code == 409
    alert = re.search(r'<div class="form-errors" role="alert" id="review-errors".*?</div>',
                      again.text, re.S)  # fmt: skip
    assert alert
    assert "该项已有决定，无需再次操作（当前状态：已处理，待对账确认）" in alert.group(0)
    with api_sessions() as session:  # booked once
        assert ledger.balance(session, a, AccountCode.WRITE_OFF) == TAKEN_FEN
