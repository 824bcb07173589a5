"""Ids the database cannot hold (beyond a 64-bit integer), in a console page's path, query or
form, are refused as invalid (422), never a server error (SQLite raised OverflowError on the
lookup); so is a form holding a NUL character, which PostgreSQL cannot store."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import SignIn

HUGE = "99999999999999999999"  # > 2**63 - 1
JUST_OVER = str(2**63)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


@pytest.mark.parametrize("huge", [HUGE, JUST_OVER])
@pytest.mark.parametrize(
    "path",
    [
        "/console/queue/{}",
        "/console/members/{}",
        "/console/associations/{}",
        "/console/batches/{}",
        "/console/bank-files/{}",
        "/console/reports/evaluation?association_id={}",
        "/console/queue?done={}",
        "/console/follow-ups?done={}",
        "/console/auto-postings?done={}",
        "/console/associations/1?registered={}",
        "/console/associations/1?applied={}",
    ],
)
def test_a_page_asked_for_an_id_beyond_the_database_is_refused_not_a_server_error(
    browser: SignIn, path: str, huge: str
) -> None:
    page = browser("officer").get(path.format(huge), headers={"Accept": "text/html"})
    assert page.status_code == 422, page.text[:300]
    assert "text/html" in page.headers["content-type"]


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/console/auto-postings/{}/undo", {"reason": "测试"}),
        ("/console/follow-ups/{}/resolve", {"note": "测试"}),
        ("/console/bank-files/{}/reapply", {"note": "测试"}),
        ("/console/queue/{}/assign", {"assignee": "officer"}),
        ("/console/queue/{}/review", {"decision": "approve"}),
        ("/console/members/{}/unmask", {}),
        ("/console/associations/{}/members", {}),
    ],
)
def test_a_form_posted_to_an_id_beyond_the_database_is_refused_not_a_server_error(
    browser: SignIn, path: str, data: dict[str, str]
) -> None:
    client = browser("officer")
    token = csrf_of(client.get("/console/queue").text)
    answer = client.post(path.format(HUGE), data={"csrf_token": token} | data)
    assert answer.status_code == 422, answer.text[:300]


def test_a_reassignment_to_an_association_beyond_the_database_is_refused(
    browser: SignIn, cash_items: dict[str, int]
) -> None:
    client = browser("officer")
    item = cash_items["a"]
    token = csrf_of(client.get(f"/console/queue/{item}").text)
    answer = client.post(
        f"/console/queue/{item}/resolve",
        data={
            "csrf_token": token,
            "action": "reassign",
            "note": "转给邻村 to the next village",
            "association_id": HUGE,
        },
    )
    assert answer.status_code == 422, answer.text[:300]
    assert "association_id" in answer.text
    assert client.get(f"/console/queue/{item}").status_code == 200


def test_a_console_form_holding_a_nul_is_refused_and_nothing_is_stored(
    browser: SignIn, cash_items: dict[str, int]
) -> None:
    client = browser("officer")
    item = cash_items["a"]
    page = client.get(f"/console/queue/{item}")
    token = csrf_of(page.text)
    answer = client.post(
        f"/console/queue/{item}/assign",
        data={"csrf_token": token, "assignee": "zhang\x00san"},
        headers={"Accept": "text/html"},
    )
    assert answer.status_code == 422
    assert "text/html" in answer.headers["content-type"]
    assert "zhang" not in client.get(f"/console/queue/{item}").text
