"""Two submissions of the same member (or the same loan contract) at once: the second passes
the service's duplicate check before the first is saved and then meets the database's unique
constraint. The user gets the form back with a refusal naming the field, in Chinese and
English, with what was typed kept and nothing written, never the API's problem document."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.app import create_app
from gateway.audit.models import AuditEvent
from gateway.db import make_engine, make_session_factory
from gateway.errors import ValidationFailed
from gateway.loans import rules as loan_rules
from gateway.loans import service as loans_service
from gateway.loans.models import Loan
from gateway.loans.schemas import LoanApplication
from gateway.members import service as members_service
from gateway.members.models import Member
from gateway.members.schemas import FieldProblem, MemberInput
from gateway.migrations import upgrade
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings
from tests.api.conftest import CIPHER_KEY, PASSWORD, Seeded, seed
from tests.web.conftest import SignIn, submit_login
from tests.web.test_console_entry_forms import (
    HTML,
    csrf_of,
    field_value,
    loan_fields,
    member_count,
    new_person,
    post_loan,
    post_member,
)

DuplicateLookup = Callable[..., list[FieldProblem]]


def member_input(person: dict[str, str]) -> MemberInput:
    return MemberInput(
        member_no=person["member_no"],
        name=person["name"],
        resident_id=person["resident_id"],
        card_number=person["card_number"],
        phone=person["phone"],
        household_no=person["household_no"],
        joined_on=date.fromisoformat(person["joined_on"]),
    )


def assert_page_refuses(page: str, field_id: str, typed: str, zh: str, en: str) -> None:
    """The association page with the form's refusal naming the field, the field marked."""
    assert 'role="alert"' in page
    assert zh in page, page
    assert en in page, page
    assert re.search(rf'<input id="{field_id}"[^>]*aria-invalid="true"', page)
    assert field_value(page, field_id) == typed
    assert "concurrent_change" not in page


# --- on the tests' database: the duplicate lookup misses the first submission ------------------


def test_a_member_submitted_twice_is_refused_beside_the_form(
    browser: SignIn,
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = browser("treasurer_a")
    a = seeded.world.a.id
    token = csrf_of(client.get(f"/console/associations/{a}").text)
    person = new_person(21)
    assert post_member(client, a, token, person).status_code == 303
    before = member_count(api_sessions, a)

    # The second submission's duplicate check ran before the first one was saved: it saw
    # nothing; any later look sees what is there.
    real: DuplicateLookup = members_service.database_problems
    calls: list[int] = []

    def checked_too_early(*args: Any, **kwargs: Any) -> list[FieldProblem]:
        calls.append(1)
        return [] if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(members_service, "database_problems", checked_too_early)
    typed = person | {"name": "王秀英 again", "low_income": "1"}
    response = post_member(client, a, token, typed)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert_page_refuses(
        page,
        "m-member_no",
        "W0021",
        "会员编号“W0021”已被另一次提交保存",
        "Member no. &#39;W0021&#39;: already saved by another submission",
    )
    assert "惠农一卡通卡号“" in page  # the same card was in the first submission too
    assert field_value(page, "m-name") == "王秀英 again"
    assert re.search(r'id="m-low_income"[^>]*checked', page)
    assert len(calls) == 2  # the check that missed, and the one naming the fields
    assert member_count(api_sessions, a) == before
    with api_sessions() as session:
        registered = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "member.register", AuditEvent.actor == "user:treasurer_a")
        )
    assert registered == 1

    # The request's session was rolled back: the next submission goes through.
    monkeypatch.setattr(members_service, "database_problems", real)
    again = post_member(client, a, csrf_of(page), new_person(22))
    assert again.status_code == 303, again.text
    assert member_count(api_sessions, a) == before + 1


def test_a_refusal_names_the_field_in_english_after_the_switch(
    browser: SignIn,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = browser("treasurer_a")
    client.cookies.set("lang", "en")
    a = seeded.world.a.id
    token = csrf_of(client.get(f"/console/associations/{a}").text)
    person = new_person(23)
    assert post_member(client, a, token, person).status_code == 303
    real: DuplicateLookup = members_service.database_problems
    calls: list[int] = []

    def checked_too_early(*args: Any, **kwargs: Any) -> list[FieldProblem]:
        calls.append(1)
        return [] if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(members_service, "database_problems", checked_too_early)
    response = post_member(client, a, token, person)
    assert response.status_code == 422
    assert "Not saved; correct and retry:" in response.text
    assert "Member no. &#39;W0023&#39;: already saved by another submission" in response.text


# --- on PostgreSQL: another session saves the same values between the check and the insert -----


@dataclasses.dataclass
class Console:
    seeded: Seeded
    sessions: sessionmaker[Session]
    client: TestClient


@pytest.fixture
def postgres_console(postgres_database: str, tmp_path: Path) -> Iterator[Console]:
    """The seeded county on a fresh PostgreSQL database, the console over it, and the
    treasurer of association a signed in through the form."""
    upgrade(postgres_database)
    engine = make_engine(postgres_database, pool_size=8)
    try:
        sessions = make_session_factory(engine)
        with sessions() as session:
            seeded = seed(session, FieldCipher(CIPHER_KEY))
        settings = Settings(database_url=postgres_database, field_key_file=tmp_path / "k.key")
        app = create_app(
            settings, engine=engine, cipher=FieldCipher(CIPHER_KEY), bank_transports={}
        )
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            assert submit_login(client, "treasurer_a", PASSWORD).status_code == 303
            yield Console(seeded, sessions, client)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_member_registered_by_another_session_meanwhile_waits_and_is_refused_by_the_check(
    postgres_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registrations to one association take its row in turn (an association being wound up
    registers no one), so another session registering the same person while the form's
    check runs waits for the form's transaction and is then refused by the check."""
    console = postgres_console
    a = console.seeded.world.a.id
    token = csrf_of(console.client.get(f"/console/associations/{a}", headers=HTML).text)
    person = new_person(31)
    real: DuplicateLookup = members_service.database_problems
    other_done = threading.Event()
    outcome: list[BaseException | None] = []

    def register_elsewhere() -> None:
        try:
            with console.sessions() as other:
                members_service.register_member(
                    other, FieldCipher(CIPHER_KEY), a, member_input(person), actor="user:other"
                )
                other.commit()
            outcome.append(None)
        except BaseException as exc:  # the refusal is what the test reads
            outcome.append(exc)
        finally:
            other_done.set()

    other = threading.Thread(target=register_elsewhere)

    def others_register_meanwhile(
        session: Session,
        cipher: FieldCipher,
        association_id: int,
        data: MemberInput,
        *,
        today: date | None = None,
    ) -> list[FieldProblem]:
        found = real(session, cipher, association_id, data, today=today)
        if not other.is_alive() and not other_done.is_set():
            other.start()
            # the other registration waits on the association's row held by this one
            assert not other_done.wait(1.0)
        return found

    monkeypatch.setattr(members_service, "database_problems", others_register_meanwhile)
    response = post_member(console.client, a, token, person)
    other.join(30)

    assert response.status_code == 303, response.text
    (refusal,) = outcome
    assert isinstance(refusal, ValidationFailed)
    assert "W0031" in refusal.message_zh
    with console.sessions() as session:
        saved = session.scalars(select(Member).where(Member.member_no == "W0031")).all()
        assert len(saved) == 1
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "member.register")
        ).all()
        assert "user:other" not in actors


@pytest.mark.postgres
def test_a_contract_saved_by_another_session_after_the_check_is_refused_beside_the_form(
    postgres_console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = postgres_console
    seeded = console.seeded
    a = seeded.world.a.id
    token = csrf_of(console.client.get(f"/console/associations/{a}", headers=HTML).text)
    fields = loan_fields(seeded, contract_no="JK-RACE-1", amount_yuan="3000.50")
    real = loan_rules.check_association_active
    calls: list[int] = []

    def others_apply_meanwhile(*args: Any, **kwargs: Any) -> None:
        # The contract number was checked just before this rule: another treasurer's
        # application with the same number is saved now.
        calls.append(1)
        if len(calls) == 1:
            with console.sessions() as other:
                members = seeded.world.members_a
                loans_service.apply(
                    other,
                    a,
                    LoanApplication(
                        contract_no="JK-RACE-1",
                        member_id=members[3].id,
                        purpose="种植",
                        amount_fen=200_000,
                        term_months=6,
                        monthly_fee_rate_centipermille=600,
                        applied_on=date(2024, 6, 1),
                        guarantor_ids=(members[4].id, members[5].id),
                    ),
                    actor="user:other",
                )
                other.commit()
        real(*args, **kwargs)

    monkeypatch.setattr(loan_rules, "check_association_active", others_apply_meanwhile)
    response = post_loan(console.client, a, token, fields)

    assert response.status_code == 422, response.text
    page = response.text
    assert_page_refuses(
        page,
        "l-contract_no",
        "JK-RACE-1",
        "合同号“JK-RACE-1”已被另一次提交保存",
        "Contract no. &#39;JK-RACE-1&#39;: already saved by another submission",
    )
    assert field_value(page, "l-amount_yuan") == "3000.50"
    with console.sessions() as session:
        saved = session.execute(select(Loan.contract_no, Loan.amount_fen)).all()
        assert [tuple(row) for row in saved] == [("JK-RACE-1", 200_000)]
