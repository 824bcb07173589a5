"""Working the mismatch queue in the console: the work list, the evidence side by side, a
resolution with its justification, and who may do what."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from gateway.queue import service as queue
from gateway.web.i18n import expected_label
from reconciliation.findings import ExceptionKind, ReconException
from tests.api.conftest import Seeded, file_booked_village_cash
from tests.web.conftest import SignIn


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_work_list_shows_village_cash_first_class(
    browser: SignIn, cash_items: dict[str, int], seeded: Seeded
) -> None:
    page = browser("reviewer").get("/console/queue").text
    assert f'href="/console/queue/{cash_items["a"]}"' in page
    assert f'href="/console/queue/{cash_items["b"]}"' in page
    assert "村级现金" in page
    assert "5,000.00" in page
    assert seeded.world.a.name in page
    assert "<td>待处理</td>" in page  # the item's status in words, not its code
    assert "<td>open</td>" not in page


def test_item_shows_the_bank_line_and_resolving_removes_it(
    browser: SignIn, booked_cash_items: dict[str, int]
) -> None:
    client = browser("reviewer")
    item = booked_cash_items["a"]
    page = client.get(f"/console/queue/{item}").text
    assert "柜台现金存款" in page  # the bank line's text
    assert "+5,000.00" in page
    # what the last run said about it, for whoever decides (filed by one run, and the
    # fixture's second run, for the other association, did not raise it)
    assert '<span id="night-state" data-night="gone">未再出现</span> (2024-06-27, 1×)' in page
    assert 'id="resolve-form"' in page
    empty = client.post(
        f"/console/queue/{item}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": "   "},
        headers={"Accept": "text/html"},
    )
    assert empty.status_code == 422  # a dismissal needs a justification
    done = client.post(
        f"/console/queue/{item}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": "已核实：误存，已退回"},
    )
    assert done.status_code == 303
    listing = client.get(done.headers["location"]).text
    assert f'href="/console/queue/{item}"' not in listing
    assert 'id="done-notice"' in listing
    assert f"#{item} · 已提交 · 当前状态: 已处理，待对账确认" in listing
    audit = client.get("/console/audit").text
    assert "queue.dismissed" in audit
    assert "已核实：误存，已退回" in audit


def test_treasurer_and_bank_operator_cannot_see_the_queue(
    browser: SignIn, cash_items: dict[str, int]
) -> None:
    client = browser("treasurer_a")
    page = client.get(f"/console/queue/{cash_items['a']}", headers={"Accept": "text/html"})
    assert page.status_code == 403
    assert "/console/queue" not in client.get("/console").text  # not in the navigation


def test_auditor_reads_but_cannot_resolve(browser: SignIn, cash_items: dict[str, int]) -> None:
    reviewer_page = browser("reviewer").get(f"/console/queue/{cash_items['b']}").text
    auditor = browser("auditor")
    page = auditor.get(f"/console/queue/{cash_items['b']}").text
    assert "柜台现金存款" in page
    assert 'id="resolve-form"' not in page
    refused = auditor.post(
        f"/console/queue/{cash_items['b']}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": "x"},
        headers={"Accept": "text/html"},
    )
    assert refused.status_code == 403
    assert 'id="resolve-form"' in reviewer_page


def test_large_adjusting_entry_needs_a_second_person(
    browser: SignIn, cash_items: dict[str, int]
) -> None:
    item = cash_items["a"]
    reviewer = browser("reviewer")
    page = reviewer.get(f"/console/queue/{item}").text
    proposed = reviewer.post(
        f"/console/queue/{item}/resolve",
        data={
            "csrf_token": csrf_of(page),
            "action": "adjusting_entry",
            "note": "现金存入转暂记，待查明来源",
        },
    )
    assert proposed.status_code == 303
    waiting = reviewer.get(f"/console/queue/{item}").text
    assert "待第二人复核" in waiting  # awaiting_approval, in words
    assert 'action="/console/queue/' + str(item) + '/review"' in waiting
    own = reviewer.post(
        f"/console/queue/{item}/review",
        data={"csrf_token": csrf_of(waiting), "decision": "approve"},
        headers={"Accept": "text/html"},
    )
    assert own.status_code == 422
    assert "second_person_required" in own.text
    officer = browser("officer")
    officer_page = officer.get(f"/console/queue/{item}").text
    approved = officer.post(
        f"/console/queue/{item}/review",
        data={"csrf_token": csrf_of(officer_page), "decision": "approve"},
    )
    assert approved.status_code == 303
    assert f'href="/console/queue/{item}"' not in officer.get("/console/queue").text


def test_reassigning_hands_the_item_over_open_and_says_so(
    browser: SignIn, cash_items: dict[str, int], seeded: Seeded
) -> None:
    client = browser("reviewer")
    item = cash_items["a"]
    page = client.get(f"/console/queue/{item}").text
    done = client.post(
        f"/console/queue/{item}/resolve",
        data={
            "csrf_token": csrf_of(page),
            "action": "reassign",
            "note": "二村社员误存入一村子账户",
            "association_id": str(seeded.world.b.id),
        },
    )
    assert done.status_code == 303
    listing = client.get(done.headers["location"]).text
    assert f"#{item} · 已提交 · 当前状态: 待处理" in listing
    # still to be worked, now under the other association
    row = re.search(
        rf'<tr[^>]*>(?:(?!</tr>).)*href="/console/queue/{item}"(?:(?!</tr>).)*</tr>', listing, re.S
    )
    assert row is not None
    assert seeded.world.b.name in row.group(0)
    assert seeded.world.a.name not in row.group(0)


def test_a_balance_break_is_listed_by_its_difference_with_both_figures_at_hand(
    browser: SignIn, api_sessions: sessionmaker[Session], seeded: Seeded
) -> None:
    with api_sessions() as session:
        a = session.merge(seeded.world.a)
        filed = queue.sync_run(
            session,
            special_account_id=a.special_account_id,
            business_date=date(2024, 6, 27),
            exceptions=[
                ReconException(
                    kind=ExceptionKind.BALANCE_BREAK,
                    sub_account=a.sub_account_number,
                    subject=f"ledger:{a.sub_account_number}",
                    expected_fen=19_154_800,
                    actual_fen=17_854_800,
                )
            ],
            associations={a.sub_account_number: a.id},
            entry_associations={},
            actor="nightly",
        )
        session.commit()
    (item,) = filed.new
    page = browser("reviewer").get("/console/queue").text
    row = re.search(
        rf'<tr[^>]*>(?:(?!</tr>).)*href="/console/queue/{item}"(?:(?!</tr>).)*</tr>', page, re.S
    )
    assert row is not None
    # what is wrong, not the balance: the bank holds 13,000 yuan less than the books
    assert "差额</span> -13,000.00" in row.group(0)
    # the bank is held against the books plus the items still open, and says so
    assert 'title="银行 178,548.00 · 账面加未达项 191,548.00"' in row.group(0)


def test_dismissed_item_keeps_its_evidence(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """Once an item is settled its bank line is no longer open; its page still shows the line
    (date, amount, counterparty) as the run saw it."""
    with api_sessions() as session:
        item_id = file_booked_village_cash(
            session, session.merge(seeded.world.a), tag="ev", amount_fen=987_654
        )
        session.commit()
    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    done = officer.post(
        f"/console/queue/{item_id}/resolve",
        data={"csrf_token": csrf_of(page), "action": "dismiss", "note": "已核实为会员存款"},
    )
    assert done.status_code == 303
    after = officer.get(f"/console/queue/{item_id}").text
    lines = re.search(r'<table id="bank-lines">.*?</table>', after, re.S)
    assert lines
    assert "2024-06-27" in lines.group(0)
    assert "+9,876.54" in lines.group(0)
    assert "现金存入" in lines.group(0)
    assert "柜台现金存款" in lines.group(0)
    assert "（流水已不在未达项中）" in lines.group(0)  # and says it is no longer open


def test_item_page_shows_the_bank_and_book_figures_and_their_difference(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        a = session.merge(seeded.world.a)
        summary = queue.sync_run(
            session,
            special_account_id=a.special_account_id,
            business_date=date(2024, 6, 27),
            exceptions=[
                ReconException(
                    kind=ExceptionKind.BALANCE_BREAK,
                    sub_account=a.sub_account_number,
                    actual_fen=1_234_567,
                    expected_fen=1_000_000,
                    detail="余额不符",
                )
            ],
            associations={a.sub_account_number: a.id},
            entry_associations={},
            actor="nightly",
        )
        session.commit()
        item_id = summary.new[0]
    officer = browser("officer")
    page = officer.get(f"/console/queue/{item_id}").text
    figures = re.search(r'<div class="tiles" id="item-figures">.*?\n</div>', page, re.S)
    assert figures
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", figures.group(0))).strip()
    label = expected_label("zh", queue.get_item(api_sessions(), item_id).subject)
    assert shown == f"银行 12,345.67 {label} 10,000.00 差额 2,345.67"


def test_accounts_table_balance_column_is_called_balance(browser: SignIn, seeded: Seeded) -> None:
    """科目余额 lists every ledger account; its last column is each account's balance, not
    the sub-account's."""
    page = browser("officer").get(f"/console/associations/{seeded.world.a.id}").text
    head = re.search(r'<details class="card">.*?</thead>', page, re.S)
    assert head
    assert '<th class="num">余额</th></tr></thead>' in head.group(0)
    assert "子账户余额" not in head.group(0)


def _offered(page: str) -> list[str]:
    return re.findall(r'<input type="radio" name="action" value="([a-z_]+)"', page)


def test_only_what_the_item_allows_is_offered(
    browser: SignIn,
    cash_items: dict[str, int],
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
) -> None:
    """Cash paid in that nobody booked cannot be dismissed, so the console does not offer it;
    once the deposit is answered in the books it can. Parked with the bank while its money is
    still open, the item says why nothing can be done now instead of offering a form."""
    client = browser("reviewer")
    open_money = client.get(f"/console/queue/{cash_items['a']}").text
    assert "dismiss" not in _offered(open_money)
    assert "adjusting_entry" in _offered(open_money)
    with api_sessions.begin() as session:
        answered = file_booked_village_cash(session, session.merge(seeded.world.a), tag="bk")
    booked = client.get(f"/console/queue/{answered}").text
    assert "dismiss" in _offered(booked)

    with api_sessions.begin() as session:
        queue.resolve_bank_error(session, cash_items["b"], actor="reviewer", note="银行误记")
    parked = client.get(f"/console/queue/{cash_items['b']}").text
    assert _offered(parked) == []
    assert 'id="resolve-none"' in parked
    assert "现在不能驳回" in parked
