"""The association page's entry forms: a treasurer registers a member and applies for a loan in
the console, through the same services, checks and audit records as the API; a refusal keeps
every typed value and writes nothing; users without the permission or outside the scope get no
form and are refused (403, or 404 outside the scope, as the API answers).

A refused form (a domain rule, or a field that cannot be read) comes back with status 422."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit.models import AuditEvent
from gateway.auth import credentials
from gateway.demo.generate import card_number, resident_id
from gateway.errors import RuleViolation
from gateway.loans.models import Loan, LoanStatus
from gateway.members import service as members_service
from gateway.members.models import Member
from gateway.org.models import County
from gateway.settings import CashMode
from gateway.web.console import PER_MILLE_TEXT, YUAN_TEXT, hundredths
from gateway.web.i18n import TEXT
from tests.api.conftest import PASSWORD, Seeded
from tests.web.conftest import SignIn, submit_login

HTML = {"Accept": "text/html"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def field_value(page: str, field_id: str) -> str:
    """The value an input of the page carries (unescaped)."""
    found = re.search(rf'<input id="{re.escape(field_id)}"[^>]*?value="([^"]*)"', page)
    assert found, f"no input {field_id}"
    return html.unescape(found.group(1))


def new_person(seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {
        "member_no": f"W{seed:04d}",
        "name": "王秀英",
        "resident_id": resident_id(rng, "371321", (date(1970, 1, 1), date(1990, 1, 1))),
        "card_number": card_number(rng, "623199"),
        "phone": "13912345678",
        "household_no": f"TC-1-H-W{seed}",
        "joined_on": "2024-05-06",
    }


def member_count(sessions: sessionmaker[Session], association_id: int) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Member)
                .where(Member.association_id == association_id)
            )
            or 0
        )


def loans_of(sessions: sessionmaker[Session], association_id: int) -> list[tuple[str, int, str]]:
    with sessions() as session:
        rows = session.execute(
            select(Loan.contract_no, Loan.amount_fen, Loan.status).where(
                Loan.association_id == association_id
            )
        ).all()
        return [(c, a, LoanStatus(s).value) for c, a, s in rows]


@pytest.fixture
def treasurer(browser: SignIn, seeded: Seeded) -> tuple[TestClient, str]:
    """Treasurer of association a, on the association page, with its CSRF token."""
    client = browser("treasurer_a")
    page = client.get(f"/console/associations/{seeded.world.a.id}")
    assert page.status_code == 200
    return client, csrf_of(page.text)


def post_member(
    client: TestClient, association_id: int, token: str, fields: dict[str, str]
) -> Response:
    return client.post(
        f"/console/associations/{association_id}/members",
        data={"csrf_token": token, **fields},
        headers=HTML,
    )


def loan_fields(seeded: Seeded, **overrides: object) -> dict[str, object]:
    members = seeded.world.members_a
    fields: dict[str, object] = {
        "contract_no": "JK-2024-0001",
        "member_id": str(members[0].id),
        "purpose": "养牛 cattle",
        "amount_yuan": "8000",
        "term_months": "12",
        "fee_rate_permille": "6.5",
        "applied_on": "2024-06-01",
        "guarantor_ids": [str(members[1].id), str(members[2].id)],
        "channel": "transfer",
    }
    fields.update(overrides)
    return fields


def post_loan(
    client: TestClient, association_id: int, token: str, fields: dict[str, object]
) -> Response:
    return client.post(
        f"/console/associations/{association_id}/loans",
        data={"csrf_token": token, **fields},
        headers=HTML,
    )


# --- money text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12000", 1_200_000),
        ("12000.5", 1_200_050),
        ("12000.50", 1_200_050),
        ("0.01", 1),
        ("9999999999.99", 999_999_999_999),
        ("0.29", 29),  # 0.29 * 100 is 28.999999999999996 in floating point
    ],
)
def test_yuan_text_becomes_exact_fen(text: str, expected: int) -> None:
    assert hundredths(text, YUAN_TEXT) == expected


@pytest.mark.parametrize(
    "text", ["12000.505", "1e4", "-5", "abc", "", " 1", "1.", ".5", "1,000", "１２", "٣", "+5"]
)
def test_anything_else_is_not_an_amount(text: str) -> None:
    assert hundredths(text, YUAN_TEXT) is None


def test_per_mille_text_becomes_hundredths() -> None:
    assert hundredths("6.5", PER_MILLE_TEXT) == 650
    assert hundredths("6", PER_MILLE_TEXT) == 600
    assert hundredths("0.07", PER_MILLE_TEXT) == 7
    assert hundredths("6.555", PER_MILLE_TEXT) is None


def test_every_console_word_has_chinese_and_english() -> None:
    for key, (zh, en) in TEXT.items():
        assert zh.strip(), key
        assert en.strip(), key


# --- registering a member ------------------------------------------------------------------


def test_treasurer_registers_a_member_through_the_form(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, token = treasurer
    a = seeded.world.a.id
    person = new_person(1)
    before = member_count(api_sessions, a)
    # A treasurer cannot give a new member a grade above the entry grade: nothing is written.
    refused = post_member(client, a, token, person | {"low_income": "1", "credit_grade": "B"})
    assert refused.status_code == 422, refused.text
    assert "新会员从入门等级 C 起评" in refused.text
    assert member_count(api_sessions, a) == before
    response = post_member(client, a, token, person | {"low_income": "1", "credit_grade": ""})
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"/console/associations/{a}?registered=")
    page = client.get(location).text
    assert "已登记会员 王秀英（编号 W0001）" in page
    assert person["card_number"][-4:] in page
    assert person["card_number"] not in page  # shown masked once stored
    with api_sessions() as session:
        member = session.scalars(select(Member).where(Member.member_no == "W0001")).one()
        assert member.association_id == a
        assert member.low_income is True
        assert member.credit_grade == "C"  # the county's entry grade
        assert member.joined_on == date(2024, 5, 6)
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "member.register", AuditEvent.object_id == str(member.id)
            )
        ).one()
        assert event.actor == "user:treasurer_a"
        assert event.payload["credit_grade_given"] is False
        assert event.payload["member_no"] == "W0001"


def test_bad_card_is_refused_keeping_what_was_typed(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, token = treasurer
    a = seeded.world.a.id
    before = member_count(api_sessions, a)
    person = new_person(2)
    bad_card = person["card_number"][:-1] + str((int(person["card_number"][-1]) + 1) % 10)
    typed = person | {"card_number": bad_card, "name": "李四 <b>", "low_income": "1"}
    response = post_member(client, a, token, typed)
    assert response.status_code == 422
    page = response.text
    assert 'role="alert"' in page
    assert "会员信息有误" in page
    assert "member registration refused" in page
    assert bad_card in page
    assert 'id="m-card_number"' in page
    assert re.search(r'<input id="m-card_number"[^>]*aria-invalid="true"', page)
    for name in ("member_no", "resident_id", "card_number", "phone", "household_no"):
        assert field_value(page, f"m-{name}") == typed[name], name
    assert field_value(page, "m-name") == "李四 <b>"  # kept, and escaped in the page
    assert "李四 <b>" not in page
    assert field_value(page, "m-joined_on") == "2024-05-06"
    assert re.search(r'id="m-low_income"[^>]*checked', page)
    assert member_count(api_sessions, a) == before


def test_bad_resident_id_and_unknown_grade_are_refused(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, token = treasurer
    a = seeded.world.a.id
    before = member_count(api_sessions, a)
    person = new_person(3)
    response = post_member(client, a, token, person | {"resident_id": "371321199001011230"})
    assert response.status_code == 422
    assert "resident_id=" in response.text
    assert field_value(response.text, "m-resident_id") == "371321199001011230"
    response = post_member(client, a, token, person | {"credit_grade": "AAA"})
    assert response.status_code == 422
    assert "信用等级 AAA 不在本县信用等级表" in response.text
    response = post_member(client, a, token, person | {"joined_on": "2024-13-01"})
    assert response.status_code == 422
    assert "入会日期“2024-13-01”不是有效日期" in response.text
    response = post_member(client, a, token, person | {"name": ""})
    assert response.status_code == 422
    assert "姓名“”不能为空" in response.text
    assert member_count(api_sessions, a) == before


def test_a_refusal_after_a_write_leaves_nothing_behind(
    treasurer: tuple[TestClient, str],
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whatever the service wrote before refusing is rolled back, not committed with the page."""
    real = members_service.register_member

    def register_then_refuse(*args: Any, **kwargs: Any) -> Member:
        real(*args, **kwargs)  # the member and its audit record are flushed
        raise RuleViolation("测试拒绝", "refused for the test", code="test_refusal")

    monkeypatch.setattr(members_service, "register_member", register_then_refuse)
    client, token = treasurer
    a = seeded.world.a.id
    before = member_count(api_sessions, a)
    response = post_member(client, a, token, new_person(8))
    assert response.status_code == 422
    assert "测试拒绝" in response.text
    assert "refused for the test" in response.text
    assert member_count(api_sessions, a) == before
    with api_sessions() as session:
        registered = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "member.register", AuditEvent.actor == "user:treasurer_a")
        )
    assert registered == 0


def test_a_form_without_its_csrf_token_is_refused(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, _ = treasurer
    a = seeded.world.a.id
    before = member_count(api_sessions, a)
    response = post_member(client, a, "forged", new_person(4))
    assert response.status_code == 403
    assert "表单已过期" in response.text
    assert member_count(api_sessions, a) == before


# --- applying for a loan ---------------------------------------------------------------------


@pytest.fixture
def grade_b_borrower(seeded: Seeded, api_sessions: sessionmaker[Session]) -> int:
    """The first member of a holds grade B (a 20,000 yuan limit)."""
    with api_sessions() as session:
        member = session.get_one(Member, seeded.world.members_a[0].id)
        member.credit_grade = "B"
        session.commit()
        return member.id


def test_treasurer_applies_for_a_loan_with_two_guarantors(
    treasurer: tuple[TestClient, str],
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    grade_b_borrower: int,
) -> None:
    client, token = treasurer
    a = seeded.world.a.id
    page = client.get(f"/console/associations/{a}").text
    assert 'value="cash"' not in page  # the county refuses cash: only transfer is offered
    response = post_loan(client, a, token, loan_fields(seeded, amount_yuan="12000.50"))
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"]).text
    assert "已受理借款申请 JK-2024-0001" in page
    assert "12,000.50" in page
    assert loans_of(api_sessions, a) == [("JK-2024-0001", 1_200_050, "applied")]
    with api_sessions() as session:
        loan = session.scalars(select(Loan).where(Loan.contract_no == "JK-2024-0001")).one()
        assert loan.member_id == grade_b_borrower
        assert loan.monthly_fee_rate_centipermille == 650
        assert loan.term_months == 12
        assert loan.applied_on == date(2024, 6, 1)
        assert sorted(g.member_id for g in loan.guarantors) == sorted(
            m.id for m in seeded.world.members_a[1:3]
        )
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "loan.apply", AuditEvent.object_id == str(loan.id)
            )
        ).one()
        assert event.actor == "user:treasurer_a"


@pytest.mark.parametrize("amount", ["12000.505", "1e4", "-5", "abc", "", "12 000"])
def test_an_amount_that_is_not_yuan_text_is_refused(
    treasurer: tuple[TestClient, str],
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    amount: str,
) -> None:
    client, token = treasurer
    a = seeded.world.a.id
    response = post_loan(client, a, token, loan_fields(seeded, amount_yuan=amount))
    assert response.status_code == 422
    page = response.text
    assert f"借款金额（元）“{html.escape(amount.strip())}”不是有效金额" in page
    assert "Amount (yuan)" in page
    assert re.search(r'<input id="l-amount_yuan"[^>]*aria-invalid="true"', page)
    assert field_value(page, "l-amount_yuan") == amount
    assert field_value(page, "l-contract_no") == "JK-2024-0001"
    assert field_value(page, "l-purpose") == "养牛 cattle"
    assert field_value(page, "l-fee_rate_permille") == "6.5"
    for member in seeded.world.members_a[1:3]:  # the guarantors stay chosen
        assert re.search(rf'<option value="{member.id}" selected>', page)
    assert loans_of(api_sessions, a) == []


def test_every_unreadable_field_is_named_at_once(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, token = treasurer
    fields = loan_fields(
        seeded, fee_rate_permille="6.555", term_months="twelve", applied_on="yesterday"
    )
    response = post_loan(client, seeded.world.a.id, token, fields)
    assert response.status_code == 422
    assert "月费率（‰）“6.555”不是有效费率" in response.text
    assert "期限（月）“twelve”须为整数月数" in response.text
    assert "申请日期“yesterday”不是有效日期" in response.text
    response = post_loan(client, seeded.world.a.id, token, loan_fields(seeded, contract_no=""))
    assert response.status_code == 422
    assert "合同号“”不能为空" in response.text
    response = post_loan(client, seeded.world.a.id, token, loan_fields(seeded, member_id=""))
    assert response.status_code == 422
    assert "借款人“”未选择或无效" in response.text
    unknown = loan_fields(seeded, member_id="1234567890")  # an id past six digits is read
    response = post_loan(client, seeded.world.a.id, token, unknown)
    assert response.status_code == 422
    # answered as a member of another association is: naming nobody
    assert "借款人不是本协会会员（会员 ID 1234567890）" in response.text
    assert loans_of(api_sessions, seeded.world.a.id) == []


def test_a_loan_over_the_credit_limit_is_refused_with_the_rule(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, token = treasurer
    a = seeded.world.a.id
    # The first member holds the entry grade C: 10,000 yuan.
    response = post_loan(client, a, token, loan_fields(seeded, amount_yuan="10000.01"))
    assert response.status_code == 422
    page = response.text
    assert "信用等级 C 的借款限额为 10000.00 元，本笔 10000.01 元" in page
    assert "credit grade C allows 10000.00 yuan" in page
    assert field_value(page, "l-amount_yuan") == "10000.01"
    # One guarantor is not a joint guarantee; a member of b is not a borrower here.
    one = loan_fields(seeded, guarantor_ids=[str(seeded.world.members_a[1].id)])
    response = post_loan(client, a, token, one)
    assert response.status_code == 422
    assert "三户联保须另有 2 户担保，现仅 1 户" in response.text
    outsider = loan_fields(seeded, member_id=str(seeded.world.members_b[0].id))
    response = post_loan(client, a, token, outsider)
    assert response.status_code == 422
    assert "借款人不是本协会会员" in response.text
    assert loans_of(api_sessions, a) == []
    with api_sessions() as session:
        applied = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "loan.apply")
        )
    assert applied == 0


def test_cash_is_offered_only_in_transitional_mode(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        county = session.get_one(County, seeded.world.county.id)
        county.cash_mode = CashMode.TRANSITIONAL
        session.commit()
    client = browser("treasurer_a")
    page = client.get(f"/console/associations/{seeded.world.a.id}").text
    assert '<option value="cash"' in page
    response = post_loan(client, seeded.world.a.id, csrf_of(page), loan_fields(seeded))
    assert response.status_code == 303
    with api_sessions() as session:
        loan = session.scalars(select(Loan).where(Loan.contract_no == "JK-2024-0001")).one()
        assert loan.channel.value == "transfer"


def test_cash_posted_where_the_county_refuses_it_is_refused(
    treasurer: tuple[TestClient, str], seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client, token = treasurer
    response = post_loan(client, seeded.world.a.id, token, loan_fields(seeded, channel="cash"))
    assert response.status_code == 422
    assert "村级不得使用现金" in response.text
    assert loans_of(api_sessions, seeded.world.a.id) == []


# --- who gets the forms ------------------------------------------------------------------------


@pytest.fixture
def more_sign_ins(api_sessions: sessionmaker[Session]) -> None:
    """Passwords for users the shared seed leaves without one."""
    with api_sessions() as session:
        for username in ("treasurer_b", "officer_other", "bank_op"):
            credentials.set_password(session, username, PASSWORD, actor="test")
        session.commit()


@pytest.fixture
def signed_in(console_app: FastAPI, more_sign_ins: None) -> Iterator[SignIn]:
    clients: list[TestClient] = []

    def sign_in(username: str) -> TestClient:
        client = TestClient(console_app, base_url="https://testserver", follow_redirects=False)
        clients.append(client)
        assert submit_login(client, username, PASSWORD).status_code == 303
        return client

    yield sign_in
    for client in clients:
        client.close()


def session_token(client: TestClient) -> str:
    return csrf_of(client.get("/console/associations", headers=HTML).text)


@pytest.mark.parametrize("username", ["reviewer", "auditor"])
def test_read_only_county_users_see_no_forms_and_are_refused(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session], username: str
) -> None:
    client = browser(username)
    a = seeded.world.a.id
    page = client.get(f"/console/associations/{a}")
    assert page.status_code == 200
    assert 'id="member-form"' not in page.text
    assert 'id="loan-form"' not in page.text
    token = csrf_of(page.text)
    before = member_count(api_sessions, a)
    response = post_member(client, a, token, new_person(5))
    assert response.status_code == 403
    assert "当前角色无权执行此操作（members.write）" in response.text
    response = post_loan(client, a, token, loan_fields(seeded))
    assert response.status_code == 403
    assert "loans.write" in response.text
    assert member_count(api_sessions, a) == before
    assert loans_of(api_sessions, a) == []


def test_the_county_officer_has_the_forms_as_the_api_allows(
    browser: SignIn, seeded: Seeded
) -> None:
    """The county administrator role holds members.write and loans.write in the API (see the
    access-control matrix), so the console offers it the same forms."""
    page = browser("officer").get(f"/console/associations/{seeded.world.a.id}").text
    assert 'id="member-form"' in page
    assert 'id="loan-form"' in page


def test_only_someone_who_may_adjust_grades_is_offered_a_starting_grade(
    browser: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    """A treasurer's form has no grade menu (a new member starts at the entry grade); the
    county administrator's form offers the county's grades with a reason, which must be given
    for a grade above the entry grade and is recorded as a grade adjustment."""
    a = seeded.world.a.id
    treasurer_page = browser("treasurer_a").get(f"/console/associations/{a}").text
    assert 'id="member-form"' in treasurer_page
    assert 'id="m-credit_grade"' not in treasurer_page
    assert 'id="m-credit_grade_reason"' not in treasurer_page

    officer = browser("officer")
    page = officer.get(f"/console/associations/{a}").text
    assert re.search(r'<select id="m-credit_grade"[^>]*>.*<option value="B"', page, re.S)
    assert 'id="m-credit_grade_reason"' in page
    token = csrf_of(page)
    person = new_person(7)
    before = member_count(api_sessions, a)
    refused = post_member(officer, a, token, person | {"credit_grade": "B"})
    assert refused.status_code == 422, refused.text
    assert "须说明理由" in refused.text
    assert re.search(r'<input id="m-credit_grade_reason"[^>]*aria-invalid="true"', refused.text)
    assert re.search(r'<option value="B" selected>', refused.text)  # the choice is kept
    assert member_count(api_sessions, a) == before

    reason = "县联社评定为优秀种养户"
    done = post_member(
        officer, a, token, person | {"credit_grade": "B", "credit_grade_reason": reason}
    )
    assert done.status_code == 303, done.text
    with api_sessions() as session:
        member = session.scalars(select(Member).where(Member.member_no == "W0007")).one()
        assert member.credit_grade == "B"
        adjusted = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "member.credit_grade_adjust",
                AuditEvent.object_id == str(member.id),
            )
        ).one()
        assert adjusted.actor == "user:officer"
        assert reason in str(adjusted.payload)


@pytest.mark.parametrize("username", ["treasurer_b", "officer_other"])
def test_users_of_another_association_or_county_are_refused_as_not_found(
    signed_in: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session], username: str
) -> None:
    client = signed_in(username)
    token = session_token(client)
    a = seeded.world.a.id
    before = member_count(api_sessions, a)
    response = post_member(client, a, token, new_person(6))
    assert response.status_code == 404  # as the API: its existence is not disclosed
    assert "对象不存在或不在您的权限范围内" in response.text
    assert post_loan(client, a, token, loan_fields(seeded)).status_code == 404
    assert member_count(api_sessions, a) == before
    assert loans_of(api_sessions, a) == []


def test_a_bank_operator_gets_no_page_and_no_write(
    signed_in: SignIn, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    client = signed_in("bank_op")
    a = seeded.world.a.id
    assert client.get(f"/console/associations/{a}", headers=HTML).status_code == 403
    token = csrf_of(client.get("/console/batches").text)
    assert post_member(client, a, token, new_person(7)).status_code == 403
    assert post_loan(client, a, token, loan_fields(seeded)).status_code == 403
    assert loans_of(api_sessions, a) == []


def test_the_forms_speak_english_after_the_switch(
    treasurer: tuple[TestClient, str], seeded: Seeded
) -> None:
    client, token = treasurer
    client.cookies.set("lang", "en")
    a = seeded.world.a.id
    page = client.get(f"/console/associations/{a}").text
    assert "Register a member" in page
    assert "Apply for a loan" in page
    assert '<label for="l-amount_yuan">Amount (yuan)</label>' in page
    response = post_member(client, a, token, new_person(9))
    assert response.status_code == 303
    assert "Member 王秀英 (W0009) registered" in client.get(response.headers["location"]).text
