"""States and kinds on the console's pages are words, Chinese or English by the page's language,
never the stored identifiers (``overdue``, ``active``, ``quarantined``): every value of every
enum the pages show has a label in both languages, and the pages print them through it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth.models import Role
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.jobs.pipeline import run_date
from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.web import console
from gateway.web.i18n import ENUM_LABELS, LABELLED_ENUMS, enum_label
from tests.api.conftest import Seeded
from tests.settle_support import DAY1, Settle, client_as, http_app, settle_in
from tests.web.conftest import SignIn

TEMPLATES = Path(console.__file__).parent / "templates"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the labels --------------------------------------------------------------------------------


@pytest.mark.parametrize("group", sorted(LABELLED_ENUMS))
def test_every_value_of_every_shown_enum_has_both_labels(group: str) -> None:
    values = {member.value for member in LABELLED_ENUMS[group]}
    labels = ENUM_LABELS[group]
    assert values - set(labels) == set(), f"{group}: values without a label"
    assert set(labels) - values == set(), f"{group}: labels of values the enum does not have"
    for value, (zh, en) in labels.items():
        assert CJK.search(zh), (group, value, zh)
        assert en.strip(), (group, value)
        assert not CJK.search(en), (group, value, en)
        assert zh != value, (group, value)
        assert en != value, (group, value)
        assert enum_label("zh", group, value) == zh
        assert enum_label("en", group, value) == en


def test_every_label_group_has_its_enum() -> None:
    assert set(ENUM_LABELS) == set(LABELLED_ENUMS)


def test_a_batch_status_is_labelled_as_a_step_of_its_history() -> None:
    steps = ENUM_LABELS["batch_step"]
    assert {status.value for status in BatchStatus} <= set(steps)


def test_the_templates_name_only_labelled_groups() -> None:
    used = {
        group
        for template in TEMPLATES.glob("*.html")
        for group in re.findall(r"label\('([a-z_]+)'", template.read_text(encoding="utf-8"))
    }
    assert used, "no template uses the labels"
    assert used <= set(LABELLED_ENUMS), used - set(LABELLED_ENUMS)


# ``problem.status`` is an HTTP status number, not a state.
RAW = re.compile(r"\{\{\s*(?!problem\.)[\w.]*\b(status|kind|direction|channel)(\.value)?\s*\}\}")


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_no_template_prints_a_state_as_stored(template: str) -> None:
    """A state, kind, direction or channel is printed through its label; the stored value
    appears only inside a data- attribute (kept for scripts, styles and tests)."""
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    outside_attributes = re.sub(r'data-[\w-]+="[^"]*"', "", text)
    assert not RAW.findall(outside_attributes), RAW.findall(outside_attributes)


# --- the association page -----------------------------------------------------------------------


@pytest.fixture
def overdue_loan(seeded: Seeded, api_sessions: sessionmaker[Session]) -> str:
    """A loan of association a, paid out and then overdue; returns its contract number."""
    with api_sessions() as session:
        world = dataclasses.replace(seeded.world, session=session)
        loan = world.apply(world.members_a[0], amount_fen=300_000)
        world.approve(loan)
        world.release(loan)
        loans.mark_disbursed(session, loan.id, business_date=world.today)
        loans.mark_overdue(session, loan.id)
        session.commit()
        return loan.contract_no


def loan_row(page: str, contract_no: str) -> str:
    found = re.search(rf"<tr[^>]*><td>{re.escape(contract_no)}</td>.*?</tr>", page, re.S)
    assert found, f"no row for loan {contract_no}"
    return found.group(0)


def status_cell(row: str) -> str:
    found = re.search(r'<td class="loan-status">([^<]*)</td>', row)
    assert found, row
    return found.group(1)


def test_the_association_page_shows_a_loans_status_in_the_pages_language(
    browser: SignIn, seeded: Seeded, overdue_loan: str
) -> None:
    client = browser("officer")
    url = f"/console/associations/{seeded.world.a.id}"
    page = client.get(url)
    assert page.status_code == 200
    row = loan_row(page.text, overdue_loan)
    assert status_cell(row) == "逾期"
    assert 'class="flag"' in row  # the overdue row is still marked
    assert ">overdue<" not in page.text
    assert re.search(r'id="association-status">正常运行<', page.text)
    assert "<td>正常</td>" in page.text  # the members' status
    assert ">active<" not in page.text

    client.cookies.set("lang", "en")
    english = client.get(url)
    row = loan_row(english.text, overdue_loan)
    assert status_cell(row) == "Overdue"
    assert 'class="flag"' in row
    assert ">overdue<" not in english.text
    assert re.search(r'id="association-status">Active<', english.text)


def test_the_member_page_and_the_list_show_words_for_states(
    browser: SignIn, seeded: Seeded
) -> None:
    client = browser("officer")
    member = seeded.world.members_a[0]
    page = client.get(f"/console/members/{member.id}").text
    assert re.search(r'id="member-status">正常<', page)
    listed = client.get("/console/associations").text
    assert "<td>正常运行</td>" in listed
    assert ">active<" not in listed
    client.cookies.set("lang", "en")
    page = client.get(f"/console/members/{member.id}").text
    assert re.search(r'id="member-status">Active<', page)


def test_the_applied_notice_names_the_status_in_words(
    browser: SignIn, seeded: Seeded, overdue_loan: str, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        loan_id = session.scalars(select(Loan.id).where(Loan.contract_no == overdue_loan)).one()
    client = browser("officer")
    url = f"/console/associations/{seeded.world.a.id}?applied={loan_id}"
    assert "（状态：逾期）" in client.get(url).text
    client.cookies.set("lang", "en")
    assert "(status: Overdue)" in client.get(url).text


# --- batches and bank files ---------------------------------------------------------------------


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def officer(settle: Settle, tmp_path: Path) -> Iterator[TestClient]:
    app = http_app(settle, tmp_path)
    with client_as(
        settle, app, "officer", Role.COUNTY_OFFICER, county_id=settle.world.county.id
    ) as client:
        yield client


def test_batches_and_bank_files_show_words_for_states_and_kinds(
    settle: Settle, officer: TestClient
) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    batch = settle.fresh().scalars(select(PaymentBatch)).one()
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY1 + timedelta(days=1))

    page = officer.get(f"/console/batches/{batch.id}").text
    badges = re.findall(r'<span class="badge" data-status="(\w+)">([^<]*)</span>', page)
    assert badges, page
    for status, shown in badges:
        label, count = shown.rsplit(": ", 1)
        assert label == enum_label("zh", "instruction_status", status) != status
        assert int(count) >= 1
    assert "<dd>代付（放款）</dd>" in page

    listed = officer.get("/console/batches").text
    files = re.findall(
        r'<td data-kind="(\w+)">([^<]*)</td><td data-status="(\w+)">([^<]*)</td>', listed
    )
    assert files, listed
    for kind, kind_shown, status, status_shown in files:
        assert kind_shown == enum_label("zh", "inbound_kind", kind) != kind
        assert status_shown == enum_label("zh", "inbound_status", status) != status
    assert ("result", "回盘文件", "applied", "已处理") in files

    officer.cookies.set("lang", "en")
    listed = officer.get("/console/batches").text
    assert '<td data-kind="result">Result file</td><td data-status="applied">Processed</td>' in (
        listed
    )
    assert "<td>Disbursement</td>" in listed
