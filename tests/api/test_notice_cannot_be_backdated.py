"""The public notice (公告公示) runs on the server's calendar, not the caller's.

A treasurer who dates the notice 30 days back is refused (the notice cannot start before the
application reached the system) and a release on the day of the notice is refused as
``notice_not_elapsed``; a release date in the future is refused too. The normal path, a
notice started today and a release once the county's notice period has run, still pays out.
The server's business date is injected through the loan endpoints' clock.

The council may approve while the notice runs; what waits for the notice is the money. The
API describes it so: council approval is given during or after the notice, the release comes
once the notice has ended, and an objection raised during the notice can still reject a loan
the council approved on its first day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.router import business_today
from gateway.loans import endpoints as loan_endpoints
from gateway.loans.models import Loan, LoanStatus
from gateway.payments.models import PaymentInstruction
from tests.api.conftest import ClientFor, Seeded


class Clock:
    """The server's business date, moved by the test."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # Starts on the real business date: the application is recorded today.
    fixed = Clock(business_today())
    monkeypatch.setattr(loan_endpoints, "business_today", fixed)
    return fixed


def apply(client_for: ClientFor, seeded: Seeded, applied_on: date, contract_no: str) -> int:
    world = seeded.world
    members = world.members_a
    answer = client_for("treasurer_a").post(
        f"/api/v1/associations/{world.a.id}/loans",
        json={
            "contract_no": contract_no,
            "member_id": members[3].id,
            "purpose": "养殖",
            "amount_fen": 500_000,
            "term_months": 12,
            "monthly_fee_rate_centipermille": 600,
            "applied_on": applied_on.isoformat(),
            "guarantor_ids": [members[4].id, members[5].id],
        },
    )
    assert answer.status_code == 201, answer.text
    loan_id: int = answer.json()["id"]
    return loan_id


def stored(sessions: sessionmaker[Session], loan_id: int) -> Loan:
    with sessions() as session:
        loan = session.get(Loan, loan_id)
        assert loan is not None
        session.expunge(loan)
        return loan


def instructions(sessions: sessionmaker[Session], loan_id: int) -> int:
    with sessions() as session:
        return session.query(PaymentInstruction).filter_by(loan_id=loan_id).count()


def test_a_notice_dated_30_days_back_is_refused_and_the_same_day_release_too(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session], clock: Clock
) -> None:
    today = clock.today
    back = today - timedelta(days=30)
    # Even an application dated 30 days back does not let the notice start before it was
    # recorded: the notice is refused and the loan stays as applied.
    loan_id = apply(client_for, seeded, back, "BD-0001")
    treasurer = client_for("treasurer_a")
    refused = treasurer.post(f"/api/v1/loans/{loan_id}/notice", json={"on": back.isoformat()})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "date_before_application"
    assert "倒签" in problem["message_zh"]
    assert "cannot be backdated" in problem["message_en"]
    assert problem["details"]["earliest"] == today.isoformat()
    assert stored(api_sessions, loan_id).status is LoanStatus.APPLIED
    # A notice in the future is refused as well.
    ahead = treasurer.post(
        f"/api/v1/loans/{loan_id}/notice", json={"on": (today + timedelta(days=1)).isoformat()}
    )
    assert ahead.status_code == 422
    assert ahead.json()["code"] == "date_in_future"

    # Without a date the notice starts on the server's business date.
    noticed = treasurer.post(f"/api/v1/loans/{loan_id}/notice", json={})
    assert noticed.status_code == 200, noticed.text
    assert noticed.json()["notice_start"] == today.isoformat()
    approved = treasurer.post(f"/api/v1/loans/{loan_id}/council-approval", json={})
    assert approved.status_code == 200, approved.text

    officer = client_for("officer")
    same_day = officer.post(f"/api/v1/loans/{loan_id}/release", json={})
    assert same_day.status_code == 422, same_day.text
    problem = same_day.json()
    notice_days = seeded.world.county.notice_days
    assert problem["code"] == "notice_not_elapsed"
    assert f"公示期 {notice_days} 天未满" in problem["message_zh"]
    assert problem["details"]["notice_end"] == (today + timedelta(days=notice_days)).isoformat()
    # Giving a release date after the notice period does not help: it lies in the future.
    dated = officer.post(
        f"/api/v1/loans/{loan_id}/release",
        json={"on": (today + timedelta(days=notice_days)).isoformat()},
    )
    assert dated.status_code == 422
    assert dated.json()["code"] == "date_in_future"
    loan = stored(api_sessions, loan_id)
    assert loan.status is LoanStatus.COUNCIL_APPROVED
    assert loan.released_on is None
    assert instructions(api_sessions, loan_id) == 0


def test_a_notice_started_today_is_released_once_the_period_has_run(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session], clock: Clock
) -> None:
    start = clock.today
    notice_days = seeded.world.county.notice_days
    loan_id = apply(client_for, seeded, start, "BD-0002")
    treasurer = client_for("treasurer_a")
    assert treasurer.post(f"/api/v1/loans/{loan_id}/notice", json={}).status_code == 200
    assert treasurer.post(f"/api/v1/loans/{loan_id}/council-approval", json={}).status_code == 200

    clock.today = start + timedelta(days=notice_days - 1)
    early = client_for("officer").post(f"/api/v1/loans/{loan_id}/release", json={})
    assert early.status_code == 422
    assert early.json()["code"] == "notice_not_elapsed"

    clock.today = start + timedelta(days=notice_days)
    released = client_for("officer").post(f"/api/v1/loans/{loan_id}/release", json={})
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert released.json()["released_on"] == clock.today.isoformat()
    assert released.json()["notice_start"] == start.isoformat()
    assert instructions(api_sessions, loan_id) == 1


def test_a_back_office_notice_date_within_the_window_counts_from_that_date(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session], clock: Clock
) -> None:
    """A notice entered a few days after the application was recorded may carry the day it
    was posted, between the recorded application and today; the period counts from there."""
    recorded = clock.today
    notice_days = seeded.world.county.notice_days
    loan_id = apply(client_for, seeded, recorded, "BD-0003")
    clock.today = recorded + timedelta(days=3)
    treasurer = client_for("treasurer_a")
    noticed = treasurer.post(
        f"/api/v1/loans/{loan_id}/notice", json={"on": (recorded + timedelta(days=1)).isoformat()}
    )
    assert noticed.status_code == 200, noticed.text
    assert noticed.json()["notice_start"] == (recorded + timedelta(days=1)).isoformat()
    assert treasurer.post(f"/api/v1/loans/{loan_id}/council-approval", json={}).status_code == 200

    clock.today = recorded + timedelta(days=notice_days + 1)
    released = client_for("officer").post(f"/api/v1/loans/{loan_id}/release", json={})
    assert released.status_code == 200, released.text
    assert stored(api_sessions, loan_id).released_on == clock.today


def test_an_application_dated_in_the_future_is_refused(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session], clock: Clock
) -> None:
    world = seeded.world
    answer = client_for("treasurer_a").post(
        f"/api/v1/associations/{world.a.id}/loans",
        json={
            "contract_no": "BD-0004",
            "member_id": world.members_a[3].id,
            "purpose": "养殖",
            "amount_fen": 500_000,
            "term_months": 12,
            "monthly_fee_rate_centipermille": 600,
            "applied_on": (clock.today + timedelta(days=1)).isoformat(),
            "guarantor_ids": [world.members_a[4].id, world.members_a[5].id],
        },
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "date_in_future"
    with api_sessions() as session:
        assert session.query(Loan).filter_by(contract_no="BD-0004").count() == 0


def test_the_api_describes_council_approval_as_given_during_or_after_the_notice(
    app: FastAPI,
) -> None:
    paths = app.openapi()["paths"]
    council = paths["/api/v1/loans/{loan_id}/council-approval"]["post"]
    assert "after the notice period" not in council["summary"]
    assert council["summary"] == "理事会审批 Council approval (during or after the public notice)"
    assert "理事会可在公示期间或公示期满后审批" in council["description"]
    assert "No money moves before the notice has ended" in council["description"]
    release = paths["/api/v1/loans/{loan_id}/release"]["post"]
    assert "once the public notice has ended" in release["summary"]


def test_a_loan_approved_on_the_notices_first_day_waits_and_can_still_be_rejected(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session], clock: Clock
) -> None:
    loan_id = apply(client_for, seeded, clock.today, "BD-0005")
    treasurer = client_for("treasurer_a")
    assert treasurer.post(f"/api/v1/loans/{loan_id}/notice", json={}).status_code == 200
    approved = treasurer.post(f"/api/v1/loans/{loan_id}/council-approval", json={})
    assert approved.status_code == 200, approved.text
    assert approved.json()["council_approved_on"] == clock.today.isoformat()

    early = client_for("officer").post(f"/api/v1/loans/{loan_id}/release", json={})
    assert early.status_code == 422
    assert early.json()["code"] == "notice_not_elapsed"

    objected = treasurer.post(
        f"/api/v1/loans/{loan_id}/reject", json={"reason": "公示期间村民提出异议"}
    )
    assert objected.status_code == 200, objected.text
    assert stored(api_sessions, loan_id).status is LoanStatus.REJECTED
    assert instructions(api_sessions, loan_id) == 0
