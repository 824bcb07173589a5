"""Who did what, in words: the nightly reconciliation named as such (not ``reconciler``) in
an item's history and the audit log, and an audit event's money in yuan to the fen."""

from __future__ import annotations

import html
import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution
from gateway.reconcile.service import RECONCILER
from reconciliation.findings import ExceptionKind
from tests.api.conftest import Seeded, file_open_line
from tests.web.conftest import SignIn


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def history_of(page: str) -> str:
    return text_of(page[page.index('id="history-h"') :])


def test_the_nightly_reconciliation_is_named_in_words_in_history_and_audit_log(
    browser: SignIn, api_sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    with api_sessions() as session:
        a = session.merge(seeded.world.a)
        item = file_open_line(
            session,
            a,
            ExceptionKind.VILLAGE_CASH,
            {
                "line_id": "STMT-night:1",
                "credit": True,
                "amount_fen": 50_000,
                "channel": "cash",
                "counterparty_account": None,
                "counterparty_name": "现金存入",
                "remittance": "柜台现金存款",
            },
            actor=RECONCILER,
        )
        session.commit()
    client = browser("reviewer")
    history = history_of(client.get(f"/console/queue/{item}").text)
    assert "夜间对账 对账发现，新建差错" in history
    assert RECONCILER not in history
    audit = client.get("/console/audit").text
    synced = audit[: audit.index('data-action="queue.synced"')]
    assert "夜间对账" in text_of(synced[synced.rindex("<tr>") :])
    assert f"<td>{RECONCILER}</td>" not in audit

    client.cookies.set("lang", "en")
    history = history_of(client.get(f"/console/queue/{item}").text)
    assert "Nightly reconciliation Raised by the reconciliation run" in history


def contribution_row(client: TestClient) -> str:
    page = client.get("/console/audit").text
    start = page.index('data-action="capital.contribution"')
    row = page[page.rindex("<tr>", 0, start) : page.index("</tr>", start)]
    return text_of(row)


def test_the_audit_log_shows_an_amount_in_yuan_to_the_fen_not_in_fen(
    browser: SignIn, api_sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    with api_sessions() as session:
        record_contribution(
            session,
            association_id=seeded.world.a.id,
            source=CapitalSource.CENTRAL,
            amount_fen=26_797,
            received_on=date(2024, 6, 27),
            reference="web-audit",
        )
        session.commit()
    client = browser("reviewer")
    row = contribution_row(client)
    assert "amount: 267.97 元" in row
    assert "26797" not in row
    assert "source: central" in row
    # the posting it made: its legs in yuan, debit and credit in words
    page = client.get("/console/audit").text
    start = page.index('data-action="ledger.post"')
    posting = text_of(page[page.rindex("<tr>", 0, start) : page.index("</tr>", start)])
    assert "借 1002 267.97；贷" in posting
    assert "total: 267.97 元" in posting
    assert "26797" not in posting
    assert "记账凭证" in posting  # what it is about, in words (journal_transaction)

    client.cookies.set("lang", "en")
    assert "amount: 267.97 yuan" in contribution_row(client)
