"""The console's 自动记账 page: what the reconciler booked without a person, and undoing one
with a reason; a blank reason is refused beside the form, and a read-only auditor sees the
postings without a form."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session, sessionmaker

from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from tests.api.conftest import Seeded, book_fee_automatically
from tests.web.conftest import SignIn
from tests.web.test_console_queue import csrf_of


def test_the_office_undoes_an_automatic_posting_with_a_reason(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    auto_id, _ = book_fee_automatically(api_sessions, seeded)
    client = browser("reviewer")
    page = client.get("/console/auto-postings").text
    assert 'href="/console/auto-postings"' in page  # in the navigation
    assert f'id="auto-posting-{auto_id}"' in page
    assert "银行手续费" in page
    assert "STMT-FEE:1" in page
    assert f'action="/console/auto-postings/{auto_id}/undo"' in page

    blank = client.post(
        f"/console/auto-postings/{auto_id}/undo",
        data={"csrf_token": csrf_of(page), "reason": "  "},
    )
    assert blank.status_code == 422
    assert "撤销必须说明原因" in blank.text

    done = client.post(
        f"/console/auto-postings/{auto_id}/undo",
        data={"csrf_token": csrf_of(page), "reason": "短信费应由协会自付"},
    )
    assert done.status_code == 303
    listing = client.get(done.headers["location"]).text
    assert 'id="done-notice"' in listing
    assert f'id="auto-posting-{auto_id}"' not in listing  # no longer standing
    undone = client.get("/console/auto-postings?state=undone").text
    assert f'id="auto-posting-{auto_id}"' in undone
    assert "短信费应由协会自付" in undone
    with api_sessions() as session:
        assert ledger.balance(session, seeded.world.a.id, AccountCode.EXPENSE_OTHER) == 0


def test_a_read_only_auditor_sees_the_postings_without_a_form(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    auto_id, _ = book_fee_automatically(api_sessions, seeded)
    page = browser("auditor").get("/console/auto-postings").text
    assert f'id="auto-posting-{auto_id}"' in page
    assert f'action="/console/auto-postings/{auto_id}/undo"' not in page


def test_undoing_a_posting_twice_says_it_is_undone_already(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """A second click (or a second tab) on 撤销 after the posting was undone."""
    auto_id, _ = book_fee_automatically(api_sessions, seeded)
    client = browser("reviewer")
    page = client.get("/console/auto-postings").text
    form = {"csrf_token": csrf_of(page), "reason": "短信费应由协会自付"}
    assert client.post(f"/console/auto-postings/{auto_id}/undo", data=form).status_code == 303
    again = client.post(
        f"/console/auto-postings/{auto_id}/undo", data=form, headers={"Accept": "text/html"}
    )
    assert again.status_code == 409
    assert 'role="alert"' in again.text
    assert f"自动记账 #{auto_id} 已撤销，无需再次操作" in again.text
    with api_sessions() as session:  # undone once
        assert ledger.balance(session, seeded.world.a.id, AccountCode.EXPENSE_OTHER) == 0


def chosen_state(page: str) -> list[str]:
    """The values of the state filter's options marked selected."""
    return re.findall(r'<option value="([a-z]+)" selected>', page)


def test_an_unknown_state_shows_the_standing_postings_with_the_filter_marked_and_says_so(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """An old or mistyped link (?state=bogus) is not read as "all": the page shows what it
    shows by default, the filter says so, and a line names the states there are."""
    undone_id, _ = book_fee_automatically(api_sessions, seeded)
    client = browser("reviewer")
    page = client.get("/console/auto-postings").text
    undone = client.post(
        f"/console/auto-postings/{undone_id}/undo",
        data={"csrf_token": csrf_of(page), "reason": "短信费应由协会自付"},
    )
    assert undone.status_code == 303

    bogus = client.get("/console/auto-postings?state=bogus")
    assert bogus.status_code == 200
    assert chosen_state(bogus.text) == ["standing"]
    assert f'id="auto-posting-{undone_id}"' not in bogus.text  # not every posting
    notice = re.search(
        r'<div class="form-errors" role="status" id="state-unknown">(.*?)</div>', bogus.text, re.S
    )
    assert notice, bogus.text
    assert (
        "没有“bogus”这一状态（可选：有效、已撤销、全部），下面按默认显示有效的自动记账"
        in notice.group(1)
    )
    assert "There is no state &#39;bogus&#39; (choose Standing, Undone, All)" in notice.group(1)

    # the states it knows are shown as asked, without the line
    for state, shown in (("all", True), ("undone", True), ("standing", False)):
        listing = client.get(f"/console/auto-postings?state={state}").text
        assert chosen_state(listing) == [state]
        assert (f'id="auto-posting-{undone_id}"' in listing) is shown
        assert 'id="state-unknown"' not in listing
    assert chosen_state(client.get("/console/auto-postings").text) == ["standing"]
