"""Where the console sends people: each role lands on a page it may see after signing in, an
error page keeps the signed-in user's navigation and sign-out, and a session that expired
while a form was open brings the user back to that form's page (never to a POST-only
address), with the query they had."""

from __future__ import annotations

import re
from urllib.parse import unquote

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import credentials
from tests.api.conftest import PASSWORD, Seeded, file_village_cash
from tests.web.conftest import SignIn, submit_login
from tests.web.test_console_queue import csrf_of

HTML = {"Accept": "text/html"}


def _new_browser(console_app: FastAPI) -> TestClient:
    return TestClient(console_app, base_url="https://testserver", follow_redirects=False)


def _next_of(redirect: str) -> str:
    assert redirect.startswith("/login?next="), redirect
    return unquote(redirect.split("next=", 1)[1])


def test_bank_operator_lands_on_the_batches_after_signing_in(
    console_app: FastAPI, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        credentials.set_password(session, "bank_op", PASSWORD, actor="test")
        session.commit()
    client = TestClient(console_app, base_url="https://testserver", headers=HTML)
    landed = submit_login(client, "bank_op", PASSWORD)
    assert landed.status_code == 200
    assert str(landed.url).endswith("/console/batches")
    assert '<a class="brand" href="/console/batches">' in landed.text
    # a page the role may not see says so, and 返回 leads to a page it may see
    refused = client.get("/console/associations")
    assert refused.status_code == 403
    back = re.search(r'<a href="([^"]+)" id="back">', refused.text)
    assert back
    assert client.get(back.group(1)).status_code == 200


def test_error_page_keeps_navigation_and_sign_out(browser: SignIn) -> None:
    officer = browser("officer")
    for address in ("/console/queue/999999", "/console/no-such-page"):
        page = officer.get(address, headers=HTML)
        assert page.status_code == 404
        assert 'action="/logout"' in page.text
        assert '<nav aria-label="main">' in page.text
        assert 'href="/console/queue"' in page.text
    stale = officer.post(
        "/console/queue/1/assign", data={"csrf_token": "stale", "assignee": "x"}, headers=HTML
    )
    assert stale.status_code == 403
    assert 'action="/logout"' in stale.text
    signed_out = officer.post("/logout", data={"csrf_token": csrf_of(stale.text)})
    assert signed_out.status_code == 303  # the sign-out on the error page works


def test_session_expired_on_a_form_post_returns_to_the_items_page(
    console_app: FastAPI, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="exp")
        session.commit()
    client = _new_browser(console_app)
    client.cookies.set("huzhu_session", "expired-or-unknown")
    posted = client.post(
        f"/console/queue/{item_id}/assign", data={"csrf_token": "x", "assignee": "me"}, headers=HTML
    )
    assert posted.status_code == 303
    target = _next_of(posted.headers["location"])
    assert target == f"/console/queue/{item_id}"
    client.cookies.clear()
    signed = submit_login(client, "officer", PASSWORD, next=target)
    assert signed.status_code == 303
    assert client.get(signed.headers["location"], headers=HTML).status_code == 200


def test_session_expired_on_a_form_returns_to_the_page_it_was_sent_from(
    console_app: FastAPI,
) -> None:
    client = _new_browser(console_app)
    client.cookies.set("huzhu_session", "expired-or-unknown")
    posted = client.post(
        "/console/follow-ups/7/resolve",
        data={"csrf_token": "x", "note": "n"},
        headers={**HTML, "Referer": "https://testserver/console/follow-ups?state=all"},
    )
    assert _next_of(posted.headers["location"]) == "/console/follow-ups?state=all"
    # without a Referer, the address cut back to a page; another site's Referer is ignored
    posted = client.post(
        "/console/follow-ups/7/resolve",
        data={"csrf_token": "x", "note": "n"},
        headers={**HTML, "Referer": "https://elsewhere.example/console/audit"},
    )
    assert _next_of(posted.headers["location"]) == "/console/follow-ups"


def test_sign_in_after_an_expired_session_keeps_the_filter(console_app: FastAPI) -> None:
    client = _new_browser(console_app)
    client.cookies.set("huzhu_session", "expired-or-unknown")
    asked = client.get("/console/queue?status=write_off_review&kind=", headers=HTML)
    target = _next_of(asked.headers["location"])
    assert target == "/console/queue?status=write_off_review&kind="
    client.cookies.clear()
    signed = submit_login(client, "reviewer", PASSWORD, next=target)
    assert signed.headers["location"] == target


def test_language_switch_after_a_refused_form_returns_to_the_form_page(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="lang")
        session.commit()
    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    refused = officer.post(
        f"/console/queue/{item_id}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": " "},
        headers=HTML,
    )
    assert refused.status_code == 422
    switch = re.search(r'<a class="lang" href="([^"]+)"', refused.text)
    assert switch
    switched = officer.get(switch.group(1).replace("&amp;", "&"))
    assert switched.headers["location"] == f"/console/queue/{item_id}"
    assert officer.get(switched.headers["location"]).status_code == 200
