"""The console's downloads (reports, batch and bank files) are console addresses: a refused
one (a period run backwards or over a year, a date left empty) is a console page with the
reason, a session that has expired leads to the sign-in page and back to the download; the
API answers its clients as before, with a problem document."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.api.conftest import PASSWORD, Seeded
from tests.api.test_access_control_matrix import add_bank_side
from tests.web.conftest import SignIn, submit_login

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def problem_of(html: str) -> str:
    found = re.search(
        r'<p class="error" role="alert" id="problem" data-code="[^"]*">([^<]*)</p>', html
    )
    assert found, html[-600:]
    return found.group(1)


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        ("2024-06-30", "2024-06-01", "报表期间无效：起始日 2024-06-30 晚于截止日 2024-06-01"),
        ("2023-01-01", "2024-06-30", "报表期间无效（须在一年之内）"),
    ],
    ids=["dates the wrong way round", "more than a year"],
)
def test_a_refused_period_report_download_is_a_console_page_with_the_reason(
    browser: SignIn, seeded: Seeded, start: str, end: str, reason: str
) -> None:
    client = browser("officer")
    page = client.get("/console/reports").text
    assert 'action="/console/reports/period"' in page
    assert "/api/v1/" not in page
    answer = client.get(
        "/console/reports/period",
        params={"association_id": seeded.world.a.id, "start": start, "end": end},
        headers=BROWSER,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert problem_of(answer.text) == reason
    assert 'href="/console/follow-ups"' in answer.text  # the console's page, signed in


def test_a_report_download_with_a_date_left_empty_names_the_field_on_a_console_page(
    browser: SignIn, seeded: Seeded
) -> None:
    answer = browser("officer").get(
        "/console/reports/period",
        params={"association_id": seeded.world.a.id, "start": "", "end": "2024-06-30"},
        headers=BROWSER,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "网址中的起始日不是有效日期（年-月-日）" in answer.text


def test_a_download_after_the_session_expired_signs_in_and_then_downloads(
    browser: SignIn, seeded: Seeded
) -> None:
    client = browser("officer")
    page = client.get("/console/reports").text
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    download = (
        f"/console/reports/loan-detail?association_id={seeded.world.a.id}"
        "&as_of=2024-06-30&format=csv"
    )
    answer = client.get(download, headers=BROWSER)
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        "/login?next=/console/reports/loan-detail%3Fassociation_id%3D"
        f"{seeded.world.a.id}%26as_of%3D2024-06-30%26format%3Dcsv"
    )
    signed_in = submit_login(client, "officer", PASSWORD, next=download)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == download
    again = client.get(download, headers=BROWSER)
    assert again.status_code == 200
    assert again.headers["content-type"].startswith("text/csv")


def test_the_county_summary_and_evaluation_table_download_from_console_addresses(
    browser: SignIn, seeded: Seeded
) -> None:
    client = browser("officer")
    summary = client.get(
        "/console/reports/county-summary",
        params={"county_id": seeded.world.county.id, "as_of": "2024-06-30", "format": "csv"},
    )
    assert summary.status_code == 200
    assert summary.headers["content-type"].startswith("text/csv")
    page = client.get(
        "/console/reports/evaluation",
        params={"association_id": seeded.world.a.id, "as_of": "2024-06-30"},
    ).text
    link = re.search(r'<a href="([^"]+)" id="download-csv">', page)
    assert link
    assert link.group(1).startswith("/console/reports/evaluation-table?")
    table = client.get(link.group(1).replace("&amp;", "&"))
    assert table.status_code == 200
    assert table.headers["content-type"].startswith("text/csv")
    # the other county's summary is not the officer's (the API's scope)
    refused = client.get(
        "/console/reports/county-summary",
        params={"county_id": seeded.other_county_id, "as_of": "2024-06-30"},
        headers=BROWSER,
    )
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")


def test_batch_and_bank_file_downloads_are_console_addresses_that_sign_in_when_expired(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        ids = add_bank_side(session, session.merge(seeded.world.a), "dl")
        session.commit()
    client = browser("officer")
    page = client.get("/console/batches").text
    assert f'href="/console/batches/{ids["batch"]}/content"' in page
    assert f'href="/console/bank-files/{ids["file"]}/content"' in page
    assert "/api/v1/" not in page
    batch = client.get(f"/console/batches/{ids['batch']}/content")
    assert batch.status_code == 200
    assert batch.content == b"batch bytes"
    assert client.get(f"/console/bank-files/{ids['file']}/content").content == b"dl"
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    expired = client.get(f"/console/bank-files/{ids['file']}/content", headers=BROWSER)
    assert expired.status_code == 303
    assert expired.headers["location"] == f"/login?next=/console/bank-files/{ids['file']}/content"


def test_the_api_still_answers_a_refused_download_with_a_problem_document(
    browser: SignIn, seeded: Seeded
) -> None:
    client = browser("officer")
    answer = client.get(
        f"/api/v1/associations/{seeded.world.a.id}/reports/period",
        params={"start": "2024-06-30", "end": "2024-06-01"},
        headers=BROWSER,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "report_period_reversed"
    page = client.get("/console/reports").text
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    expired = client.get(
        f"/api/v1/associations/{seeded.world.a.id}/reports/loan-detail",
        params={"as_of": "2024-06-30"},
        headers=BROWSER,
    )
    assert expired.status_code == 401
    assert expired.headers["content-type"] == "application/problem+json"
