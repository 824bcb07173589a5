"""A small county for tests and examples: two associations in one town, members with valid
card and resident-ID numbers, fiscal capital booked, and helpers that walk a loan through
its lifecycle. The gateway's tests and later modules' tests build on it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution
from gateway.demo.generate import card_number, person_name, phone, resident_id
from gateway.ledger.models import LedgerChannel
from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.loans.schemas import LoanApplication
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.members.service import register_member
from gateway.org import service as org
from gateway.org.models import Association, County, PilotLevel
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import PolicyDefaults

TODAY = date(2024, 6, 28)


@dataclass
class World:
    """A small county: two associations (``a`` and ``b``) in one town, their members and
    fiscal capital already booked."""

    session: Session
    cipher: FieldCipher
    county: County
    a: Association
    b: Association
    members_a: list[Member]
    members_b: list[Member]
    rng: random.Random
    today: date = TODAY
    _contracts: int = field(default=0)

    def new_member(
        self, association: Association, *, household_no: str | None = None, member_no: str
    ) -> Member:
        return register_member(
            self.session,
            self.cipher,
            association.id,
            MemberInput(
                member_no=member_no,
                name=person_name(self.rng),
                resident_id=resident_id(self.rng, "371321", (date(1960, 1, 1), date(1999, 1, 1))),
                card_number=card_number(self.rng, "623199"),
                phone=phone(self.rng),
                household_no=household_no or f"{association.code}-H-{member_no}",
                joined_on=self.today - timedelta(days=400),
            ),
        )

    def apply(
        self,
        borrower: Member,
        guarantors: list[Member] | None = None,
        *,
        amount_fen: int = 500_000,
        association: Association | None = None,
        channel: LedgerChannel = LedgerChannel.TRANSFER,
        applied_on: date | None = None,
    ) -> Loan:
        self._contracts += 1
        if guarantors is None:
            guarantors = self.default_guarantors(borrower)
        return loans.apply(
            self.session,
            (association or self.a).id,
            LoanApplication(
                contract_no=f"T-{self._contracts:04d}",
                member_id=borrower.id,
                purpose="养殖",
                amount_fen=amount_fen,
                term_months=12,
                monthly_fee_rate_centipermille=600,
                applied_on=applied_on or self.today - timedelta(days=30),
                guarantor_ids=tuple(g.id for g in guarantors),
                channel=channel,
            ),
        )

    def default_guarantors(self, borrower: Member) -> list[Member]:
        pool = self.members_a if borrower.association_id == self.a.id else self.members_b
        chosen: list[Member] = []
        households = {borrower.household_no}
        for m in pool:
            if m.household_no not in households:
                chosen.append(m)
                households.add(m.household_no)
            if len(chosen) == self.county.guarantors_required:
                break
        return chosen

    def approve(self, loan: Loan, *, noticed_on: date | None = None) -> Loan:
        loans.start_notice(self.session, loan.id, on=noticed_on or self.today - timedelta(days=28))
        return loans.council_approve(self.session, loan.id, on=self.today - timedelta(days=20))

    def release(self, loan: Loan, on: date | None = None) -> Loan:
        return loans.release_for_payment(self.session, loan.id, on=on or self.today)

    def disburse_and_repay(self, loan: Loan, *, on_time: bool = True) -> Loan:
        loans.mark_disbursed(self.session, loan.id, business_date=self.today)
        if not on_time:
            loans.mark_overdue(self.session, loan.id)
        return loans.record_repayment(
            self.session,
            loan.id,
            principal_fen=loan.amount_fen,
            fee_fen=0,
            business_date=self.today + timedelta(days=30),
        )


def build_world(
    session: Session,
    cipher: FieldCipher,
    *,
    members: int = 6,
    capital_fen: int = 10_000_000,
    policy: PolicyDefaults | None = None,
    **policy_overrides: Any,
) -> World:
    base = (policy or PolicyDefaults()).model_dump()
    chosen = PolicyDefaults.model_validate({**base, **policy_overrides})
    county = org.create_county(
        session, code="TC", name="测试县", fund_office_name="测试县互助资金办", policy=chosen
    )
    bank = org.get_or_create_bank(session, code="tbank", name="测试农商行")
    special = org.create_special_account(
        session, county, bank, account_number="6200001", name="测试县互助资金专户"
    )
    town = org.create_town(session, county, code="T1", name="一镇")
    associations = [
        org.create_association(
            session,
            code=f"TC-{n}",
            name=f"一镇{n}村互助协会",
            town=town,
            special_account=special,
            sub_account_number=f"6200001-{n}",
            pilot_level=PilotLevel.PROVINCIAL,
            start_date=date(2020, 1, 1),
        )
        for n in (1, 2)
    ]
    world = World(
        session=session,
        cipher=cipher,
        county=county,
        a=associations[0],
        b=associations[1],
        members_a=[],
        members_b=[],
        rng=random.Random(7),  # noqa: S311 - test data, not secrets
    )
    for association, bucket in ((world.a, world.members_a), (world.b, world.members_b)):
        for n in range(members):
            bucket.append(world.new_member(association, member_no=f"{n + 1:04d}"))
        if capital_fen:
            record_contribution(
                session,
                association_id=association.id,
                source=CapitalSource.CENTRAL,
                amount_fen=capital_fen,
                received_on=TODAY - timedelta(days=90),
            )
    session.flush()
    return world


WorldFactory = Callable[..., World]


def load_world(session: Session, cipher: FieldCipher) -> World:
    """The world :func:`build_world` stored earlier in this database (e.g. a template copy)."""
    county = session.scalars(select(County).where(County.code == "TC")).one()
    a = session.scalars(select(Association).where(Association.code == "TC-1")).one()
    b = session.scalars(select(Association).where(Association.code == "TC-2")).one()

    def members_of(association: Association) -> list[Member]:
        return list(
            session.scalars(
                select(Member)
                .where(Member.association_id == association.id)
                .order_by(Member.member_no)
            )
        )

    return World(
        session=session,
        cipher=cipher,
        county=county,
        a=a,
        b=b,
        members_a=members_of(a),
        members_b=members_of(b),
        # Another seed than build_world's, so new members never repeat the stored numbers.
        rng=random.Random(8),  # noqa: S311 - test data, not secrets
    )
