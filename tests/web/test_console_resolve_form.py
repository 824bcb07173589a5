"""The resolve form on an item's page: a refused resolution is shown beside the form with what
was typed kept, and a manual match takes the open lines and entries the user ticks."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.ledger import service as ledger
from gateway.ledger.models import AccountCode
from gateway.queue.models import ItemStatus, QueueItem
from gateway.reconcile.models import OpenItem
from gateway.reconcile.source import entry_id_of
from reconciliation.findings import ExceptionKind
from tests.api.conftest import Seeded, file_open_line, file_village_cash
from tests.web.conftest import SignIn
from tests.web.test_console_queue import csrf_of

HTML = {"Accept": "text/html"}
NOTE = "已与村会计核对现金存款单据"


def test_refused_resolution_is_shown_beside_the_form_with_the_note_kept(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        item_id = file_village_cash(session, session.merge(seeded.world.a), tag="mm")
        session.commit()
    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    refused = officer.post(
        f"/console/queue/{item_id}/resolve",
        data={"csrf_token": csrf_of(page), "action": "manual_match", "note": NOTE},
        headers=HTML,
    )
    assert refused.status_code == 422
    errors = re.search(r'<div class="form-errors" role="alert" id="resolve-errors".*?</div>',
                       refused.text, re.S)  # fmt: skip
    assert errors
    assert "人工匹配金额不符：流水合计与账务合计相差 5,000.00 元" in errors.group(0)
    assert 'id="resolve-form"' in refused.text
    assert f">{NOTE}</textarea>" in refused.text
    assert 'value="manual_match" checked' in refused.text
    assert 'action="/logout"' in refused.text  # the page, with its navigation
    with api_sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert item.status is ItemStatus.OPEN


def test_manual_match_takes_the_lines_the_user_ticks(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """A cash deposit and its withdrawal the same day, each its own item: ticking both lines on
    one item's page matches them (they add up to nothing)."""
    line = {"channel": "cash", "counterparty_account": None, "counterparty_name": "现金"}
    with api_sessions() as session:
        a = session.merge(seeded.world.a)
        deposit = file_open_line(session, a, ExceptionKind.VILLAGE_CASH, {
            **line, "line_id": "STMT-IN:1", "credit": True, "amount_fen": 80_000,
            "remittance": "现金存入"})  # fmt: skip
        file_open_line(session, a, ExceptionKind.VILLAGE_CASH, {
            **line, "line_id": "STMT-OUT:1", "credit": False, "amount_fen": 80_000,
            "remittance": "现金支取"})  # fmt: skip
        session.commit()
    officer = browser("officer")
    page = officer.get(f"/console/queue/{deposit}").text
    choice = re.search(r'<fieldset id="match-choice">.*?</fieldset>', page, re.S)
    assert choice
    assert re.search(r'name="line_ids" value="STMT-IN:1" checked', choice.group(0))
    assert re.search(r'name="line_ids" value="STMT-OUT:1" >', choice.group(0))
    assert "−800.00" in choice.group(0) or "-800.00" in choice.group(0)
    done = officer.post(
        f"/console/queue/{deposit}/resolve",
        data={"csrf_token": csrf_of(page), "action": "manual_match", "note": "当日存取，互相抵销",
              "line_ids": ["STMT-IN:1", "STMT-OUT:1"]},
    )  # fmt: skip
    assert done.status_code == 303, done.text
    with api_sessions() as session:
        still_open = session.scalars(
            select(OpenItem.item_id).where(OpenItem.item_id.in_(["STMT-IN:1", "STMT-OUT:1"]))
        ).all()
        assert still_open == []
        item = session.get(QueueItem, deposit)
        assert item is not None
        assert item.status is ItemStatus.RESOLVED


def test_manual_match_candidates_say_whose_money_they_are_and_a_cross_match_is_refused(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """A 377.65 credit on association a's sub-account and a 377.65 donation booked to
    association b: the candidate list names each one's association, and ticking both is
    refused beside the form, naming both associations."""
    with api_sessions() as session:
        a, b = session.merge(seeded.world.a), session.merge(seeded.world.b)
        item_id = file_open_line(session, a, ExceptionKind.UNMATCHED_BANK, {
            "line_id": "STMT-X:1", "credit": True, "amount_fen": 37_765, "channel": "transfer",
            "counterparty_account": None, "counterparty_name": "刘金红",
            "remittance": "还款"})  # fmt: skip
        donation = ledger.post(
            session,
            association_id=b.id,
            business_date=date(2024, 6, 27),
            description="收到捐赠资金 DON-1",
            kind="adjustment",
            legs=[
                ledger.Posting.debit(AccountCode.BANK_SUB_ACCOUNT, 37_765),
                ledger.Posting.credit(AccountCode.DONATIONS, 37_765),
            ],
        )
        entry = entry_id_of(donation.id)
        session.add(
            OpenItem(
                special_account_id=b.special_account_id,
                item_type="entry",
                item_id=entry,
                since=date(2024, 6, 27),
            )
        )
        names = {x.id: f"{x.code} {x.name}" for x in (a, b)}
        a_id, b_id = a.id, b.id
        session.commit()
    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    choice = re.search(r'<fieldset id="match-choice">.*?</fieldset>', page, re.S)
    assert choice
    shown = dict(re.findall(r'data-association="(\d*)">([^<]*)</td>', choice.group(0)))
    assert shown == {str(a_id): names[a_id], str(b_id): names[b_id]}
    refused = officer.post(
        f"/console/queue/{item_id}/resolve",
        data={"csrf_token": csrf_of(page), "action": "manual_match", "note": "金额一致",
              "line_ids": ["STMT-X:1"], "entry_ids": [entry]},
        headers=HTML,
    )  # fmt: skip
    assert refused.status_code == 422
    errors = re.search(r'id="resolve-errors" data-code="match_across_associations".*?</div>',
                       refused.text, re.S)  # fmt: skip
    assert errors
    assert names[a_id] in errors.group(0)
    assert names[b_id] in errors.group(0)
    with api_sessions() as session:
        still_open = session.scalars(
            select(OpenItem.item_id).where(OpenItem.item_id.in_(["STMT-X:1", entry]))
        ).all()
        assert sorted(still_open) == sorted(["STMT-X:1", entry])
