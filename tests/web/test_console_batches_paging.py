"""批次与文件 reaches every batch and bank file: each list is paged (newest first, 50 to a
page, the other list kept where it was) and both can be narrowed to one business date."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.batches.models import BatchStatus, Direction, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from tests.api.conftest import Seeded
from tests.web.conftest import SignIn

FIRST_DAY = date(2024, 3, 1)
DAYS = 60  # one batch and its result file a day: more than a page of each


@pytest.fixture
def sixty_nights(api_sessions: sessionmaker[Session], seeded: Seeded) -> dict[str, list[int]]:
    """A batch and the result file answering it for each of 60 business days, oldest first."""
    batches, files = [], []
    with api_sessions() as session:
        account = session.merge(seeded.world.a).special_account
        for n in range(DAYS):
            day = FIRST_DAY + timedelta(days=n)
            body = f"batch {n}".encode()
            batch = PaymentBatch(
                bank_code=account.bank.code,
                special_account_id=account.id,
                direction=Direction.DISBURSEMENT,
                business_date=day,
                sequence=1,
                message_id=f"MSG-page-{n}",
                file_name=f"DF_{day:%Y%m%d}.txt",
                status=BatchStatus.ANSWERED,
                line_count=1,
                total_fen=100_00,
                content=body,
                sha256=hashlib.sha256(body).hexdigest(),
            )
            session.add(batch)
            session.flush()
            answer = f"result {n}".encode()
            file = InboundFile(
                bank_code=account.bank.code,
                name=f"RESULT_{day:%Y%m%d}.txt",
                remote_path=f"out/RESULT_{day:%Y%m%d}.txt",
                kind=InboundKind.RESULT,
                sha256=hashlib.sha256(answer).hexdigest(),
                size=len(answer),
                content=answer,
                status=InboundStatus.APPLIED,
                business_date=day,
                batch_id=batch.id,
            )
            session.add(file)
            session.flush()
            batches.append(batch.id)
            files.append(file.id)
        session.commit()
    return {"batches": batches, "files": files}


def batch_ids(page: str) -> list[int]:
    table = page[page.index('id="batches"') : page.index('id="bank-files"')]
    return [int(i) for i in re.findall(r'<a href="/console/batches/(\d+)">#', table)]


def file_ids(page: str) -> list[int]:
    table = page[page.index('id="bank-files"') :]
    return [int(i) for i in re.findall(r'<td><a href="/console/bank-files/(\d+)">#', table)]


def next_link(page: str, which: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)" id="{which}-next">', page)
    return html.unescape(found.group(1)) if found else None


def every_page(client: TestClient, start: str, which: str) -> list[str]:
    pages: list[str] = []
    path: str | None = start
    while path:
        page = client.get(path)
        assert page.status_code == 200, page.text[:300]
        pages.append(page.text)
        path = next_link(page.text, which)
    return pages


def test_older_batches_and_bank_files_are_reached_page_by_page(
    browser: SignIn, sixty_nights: dict[str, list[int]]
) -> None:
    client = browser("officer")
    first = client.get("/console/batches").text
    assert batch_ids(first) == sorted(batch_ids(first), reverse=True)  # newest first
    assert len(batch_ids(first)) == 50
    assert sixty_nights["batches"][0] not in batch_ids(first)
    assert sixty_nights["files"][0] not in file_ids(first)

    batch_pages = every_page(client, "/console/batches", "batches")
    seen_batches = [i for page in batch_pages for i in batch_ids(page)]
    assert len(seen_batches) == len(set(seen_batches))  # none twice
    assert set(sixty_nights["batches"]) <= set(seen_batches)  # the oldest among them

    file_pages = every_page(client, "/console/batches", "files")
    seen_files = [i for page in file_pages for i in file_ids(page)]
    assert len(seen_files) == len(set(seen_files))
    assert set(sixty_nights["files"]) <= set(seen_files)
    # paging the files leaves the batches where they were, and the newest are a click away
    assert batch_ids(file_pages[1]) == batch_ids(first)
    assert 'id="newest-page"' in file_pages[1]
    assert 'id="newest-page"' not in first


def test_batches_and_bank_files_of_one_business_date(
    browser: SignIn, sixty_nights: dict[str, list[int]]
) -> None:
    client = browser("officer")
    page = client.get("/console/batches", params={"business_date": "2024-03-02"}).text
    assert batch_ids(page) == [sixty_nights["batches"][1]]
    assert file_ids(page) == [sixty_nights["files"][1]]
    assert 'name="business_date" value="2024-03-02"' in page
    assert next_link(page, "files") is None
    assert '<a href="/console/batches">全部日期</a>' in page
    # the oldest night's, which the first page of either list does not show
    oldest = client.get("/console/batches?business_date=2024-03-01").text
    assert file_ids(oldest) == [sixty_nights["files"][0]]
    assert batch_ids(oldest) == [sixty_nights["batches"][0]]
    # the API's list of bank files takes the date too, as its list of batches does
    listed = client.get("/api/v1/bank-files", params={"business_date": "2024-03-02"}).json()
    assert [f["id"] for f in listed["items"]] == [sixty_nights["files"][1]]


def test_a_cursor_that_does_not_read_is_refused_on_a_console_page(
    browser: SignIn, sixty_nights: dict[str, list[int]]
) -> None:
    answer = browser("officer").get(
        "/console/batches", params={"files_cursor": "not-a-cursor"}, headers={"Accept": "text/html"}
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "分页游标无效" in answer.text
