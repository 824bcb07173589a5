"""The console as a treasurer and a county officer see it, through real HTTP requests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import utcnow
from gateway.queue.models import QueueEvent
from tests.api.conftest import Seeded, file_village_cash
from tests.web.conftest import SignIn, submit_login


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def test_anonymous_visitor_is_sent_to_sign_in(console_app: FastAPI) -> None:
    with TestClient(console_app, base_url="https://testserver", follow_redirects=False) as c:
        response = c.get("/console/associations", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console/associations"


def test_wrong_password_is_refused_with_a_message(console_app: FastAPI) -> None:
    with TestClient(console_app, base_url="https://testserver") as c:
        response = submit_login(c, "officer", "nope-nope-1")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert "huzhu_session" not in response.headers.get("set-cookie", "")


def test_session_cookie_is_secure_and_http_only(console_app: FastAPI) -> None:
    with TestClient(console_app, base_url="https://testserver", follow_redirects=False) as c:
        response = submit_login(c, "officer", "correct-horse-42")
    cookie = response.headers["set-cookie"].lower()
    assert "huzhu_session=" in cookie
    assert "httponly" in cookie
    assert "secure" in cookie
    assert "samesite=lax" in cookie


def test_dashboard_shows_balances_and_a_chart(browser: SignIn, seeded: Seeded) -> None:
    page = browser("officer").get("/console").text
    assert seeded.world.a.name in page
    assert seeded.world.b.name in page
    assert seeded.other.name not in page  # another county's association
    assert "<svg" in page
    assert "100,000.00" in page  # each association's 100,000 yuan of fiscal capital
    assert "200,000.00" in page  # their total


def test_dashboard_cash_flags_count_the_cash_the_bank_showed(
    browser: SignIn, seeded: Seeded, cash_items: dict[str, int]
) -> None:
    page = browser("officer").get("/console").text
    # orange bars are explained beneath each chart
    assert "橙色：该协会有逾期借款或现金标记" in page
    assert "橙色：村级现金或跨协会资金，须优先处理" in page
    tile = re.search(r'<div class="tile warn"><span>现金标记</span><strong>(\d+)</strong>', page)
    assert tile is not None, "the cash tile is not raised"
    assert tile.group(1) == "2"  # one open village-cash item in each association
    for association in (seeded.world.a, seeded.world.b):
        row = re.search(
            rf'<tr class="flag">\s*<td>{re.escape(association.code)}</td>.*?'
            r'<td class="num">(\d+)</td>\s*</tr>',
            page,
            re.S,
        )
        assert row is not None, f"no flagged row for {association.code}"
        assert row.group(1) == "1"


def test_treasurer_sees_own_association_and_not_the_other(browser: SignIn, seeded: Seeded) -> None:
    client = browser("treasurer_a")
    own = client.get(f"/console/associations/{seeded.world.a.id}")
    assert own.status_code == 200
    assert seeded.world.members_a[0].name in own.text
    assert "**** ****" in own.text  # cards masked
    other = client.get(
        f"/console/associations/{seeded.world.b.id}", headers={"Accept": "text/html"}
    )
    assert other.status_code == 404
    assert seeded.world.members_b[0].name not in other.text
    assert 'data-code="not_found"' in other.text


def test_unmask_needs_the_csrf_token_and_is_audited(browser: SignIn, seeded: Seeded) -> None:
    client = browser("officer")
    member_id = seeded.world.members_a[0].id
    page = client.get(f"/console/members/{member_id}").text
    assert "**** ****" in page
    forged = client.post(
        f"/console/members/{member_id}/unmask",
        data={"csrf_token": "forged"},
        headers={"Accept": "text/html"},
    )
    assert forged.status_code == 403
    shown = client.post(f"/console/members/{member_id}/unmask", data={"csrf_token": csrf_of(page)})
    assert shown.status_code == 200
    card = re.search(r'id="card">([^<]+)<', shown.text)
    assert card is not None
    assert "*" not in card.group(1)
    audit = client.get("/console/audit").text
    row = re.search(r'<td>([^<]*)</td><td data-action="member.unmask">([^<]*)</td>', audit)
    assert row is not None
    assert row.groups() == ("officer", "查看完整卡号和身份证号")


def test_language_switch_to_english(browser: SignIn) -> None:
    client = browser("officer")
    switched = client.get("/lang/en?next=/console")
    assert switched.status_code == 303
    page = client.get("/console").text
    assert "Dashboard" in page
    assert "Sign out" in page
    assert '<html lang="en">' in page


def test_assets_are_served_by_the_app(console_app: FastAPI) -> None:
    with TestClient(console_app, base_url="https://testserver") as c:
        css = c.get("/static/console.css")
        js = c.get("/static/console.js")
        login = c.get("/login").text
    assert css.status_code == 200
    assert js.status_code == 200
    assert "http://" not in login
    assert "https://" not in login  # nothing from outside: works offline


def test_sign_out_ends_the_session(browser: SignIn) -> None:
    client = browser("reviewer")
    page = client.get("/console").text
    out = client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 303
    again = client.get("/console", headers={"Accept": "text/html"})
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


def test_report_downloads_from_the_console(browser: SignIn, seeded: Seeded) -> None:
    client = browser("officer")
    page = client.get("/console/reports").text
    assert 'action="/console/reports/loan-detail"' in page
    assert 'action="/console/reports/county-summary"' in page
    assert f'name="county_id" value="{seeded.world.county.id}"' in page
    download = client.get(
        "/console/reports/loan-detail",
        params={"association_id": seeded.world.a.id, "as_of": "2024-06-30", "format": "csv"},
    )
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "借款合同号" in download.content.decode("utf-8-sig")
    workbook = client.get(
        "/console/reports/period",
        params={"association_id": seeded.world.a.id, "start": "2024-06-01", "end": "2024-06-30"},
    )
    assert workbook.status_code == 200
    assert workbook.content[:2] == b"PK"  # an XLSX (zip) file
    treasurer_page = browser("treasurer_a").get("/console/reports").text
    assert "/reports/county-summary" not in treasurer_page
    assert seeded.world.b.name not in treasurer_page


def test_history_and_audit_times_are_shown_in_the_business_time_zone(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """Beijing time, as every business date beside it, with its offset."""
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="tz")
        at = datetime(2024, 6, 27, 16, 30, tzinfo=UTC)
        session.add(QueueEvent(item_id=item_id, at=at, actor="user:officer", action="assigned"))
        session.commit()
    officer = browser("officer")
    history = officer.get(f"/console/queue/{item_id}").text.split('id="history-h"')[1]
    assert "2024-06-28 00:30 (UTC+8)" in history  # half past midnight in Beijing, next day
    assert "2024-06-27 16:30" not in history
    beijing = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:")
    assert beijing in officer.get("/console/audit").text
