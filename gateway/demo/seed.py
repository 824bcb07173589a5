"""Seed a county from a :class:`DemoConfig`: towns, associations, members with valid cards and
IDs, fiscal capital and member deposits booked in the ledger, and a few loans taken through
the rules. Deterministic for a given seed. Used by ``huzhu demo`` and by the tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.demo.config import DemoConfig
from gateway.demo.generate import card_number, person_name, phone, resident_id
from gateway.errors import RuleViolation
from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.loans.schemas import LoanApplication
from gateway.members.models import Member
from gateway.members.schemas import MemberInput
from gateway.members.service import register_member
from gateway.org import service as org
from gateway.org.models import AccountLevel, Association, County, PilotLevel
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import PolicyDefaults

ACTOR = "demo"
PURPOSES = ("养殖肉牛", "种植大棚蔬菜", "购买农机", "经营小卖部", "种植果树", "养殖蛋鸡")


@dataclass
class SeededAssociation:
    association: Association
    members: list[Member] = field(default_factory=list)
    loans: list[Loan] = field(default_factory=list)


@dataclass
class SeededCounty:
    county: County
    associations: list[SeededAssociation] = field(default_factory=list)
    refusals: list[tuple[str, RuleViolation]] = field(default_factory=list)


def seed_county(
    session: Session, cipher: FieldCipher, config: DemoConfig, policy: PolicyDefaults
) -> SeededCounty:
    rng = random.Random(config.seed)  # noqa: S311 - deterministic demo data, not secrets
    today = config.business_date
    county = org.create_county(
        session,
        code=config.county_code,
        name=config.county_name,
        fund_office_name=config.fund_office_name,
        policy=policy,
        actor=ACTOR,
    )
    bank = org.get_or_create_bank(session, code=config.bank_code, name=config.bank_name)
    special = org.create_special_account(
        session,
        county,
        bank,
        account_number=config.special_account_number,
        name=config.special_account_name,
        level=AccountLevel.COUNTY,
    )
    seeded = SeededCounty(county=county)
    number = 0
    for town_cfg in config.towns:
        town = org.create_town(session, county, code=town_cfg.code, name=town_cfg.name)
        for village in town_cfg.villages:
            number += 1
            pilot = PilotLevel.PROVINCIAL if number % 2 else PilotLevel.MUNICIPAL
            association = org.create_association(
                session,
                code=f"{config.county_code}-{number:03d}",
                name=f"{town_cfg.name}{village}村扶贫互助资金协会",
                town=town,
                special_account=special,
                sub_account_number=f"{config.special_account_number}{number:04d}",
                pilot_level=pilot,
                start_date=today - timedelta(days=365 * rng.randint(2, 6)),
                actor=ACTOR,
            )
            entry = SeededAssociation(association=association)
            seeded.associations.append(entry)
            _fund(session, config, association, pilot, today)
            _members(session, cipher, config, rng, entry, today)
            _loans(session, config, rng, entry, today, seeded)
    return seeded


def _fund(
    session: Session, config: DemoConfig, association: Association, pilot: PilotLevel, today: date
) -> None:
    received = today - timedelta(days=60)
    levels = (
        [
            (CapitalSource.CENTRAL, config.central_fen),
            (CapitalSource.PROVINCIAL, config.provincial_fen),
        ]
        if pilot == PilotLevel.PROVINCIAL
        else [
            (CapitalSource.MUNICIPAL, config.municipal_fen),
            (CapitalSource.COUNTY, config.county_fen),
        ]
    )
    levels.append((CapitalSource.DONATION, config.donation_fen))
    for source, amount in levels:
        if amount > 0:
            record_contribution(
                session,
                association_id=association.id,
                source=source,
                amount_fen=amount,
                received_on=received,
                reference=f"{association.code}-{source.value}",
                actor=ACTOR,
            )


def _members(
    session: Session,
    cipher: FieldCipher,
    config: DemoConfig,
    rng: random.Random,
    entry: SeededAssociation,
    today: date,
) -> None:
    count = rng.randint(config.members_min, max(config.members_min, config.members_max))
    household = 0
    left_in_household = 0
    born = (date(1955, 1, 1), date(2000, 12, 31))
    for index in range(1, count + 1):
        if left_in_household == 0:
            household += 1
            left_in_household = rng.choice((1, 1, 2, 2, 3))
        left_in_household -= 1
        member = register_member(
            session,
            cipher,
            entry.association.id,
            MemberInput(
                member_no=f"{index:04d}",
                name=person_name(rng),
                resident_id=resident_id(rng, config.region_code, born),
                card_number=card_number(rng, config.card_bin),
                phone=phone(rng),
                household_no=f"{entry.association.code}-H{household:03d}",
                joined_on=today - timedelta(days=400),
                low_income=rng.random() < 0.4,
            ),
            actor=ACTOR,
        )
        record_member_deposit(
            session,
            member_id=member.id,
            amount_fen=config.deposit_fen,
            received_on=today - timedelta(days=50),
            reference=f"{entry.association.code}-D{index:04d}",
            actor=ACTOR,
        )
        entry.members.append(member)


def _loans(
    session: Session,
    config: DemoConfig,
    rng: random.Random,
    entry: SeededAssociation,
    today: date,
    seeded: SeededCounty,
) -> None:
    members = entry.members
    association = entry.association
    borrowers = rng.sample(members, min(config.loans_per_association, len(members) // 3))
    for index, borrower in enumerate(borrowers, start=1):
        others = [m for m in members if m.household_no != borrower.household_no]
        guarantors: list[Member] = []
        for candidate in rng.sample(others, len(others)):
            if candidate.household_no not in {g.household_no for g in guarantors}:
                guarantors.append(candidate)
            if len(guarantors) == 2:
                break
        amount = rng.choice((300_000, 500_000, 800_000, 1_000_000))
        loan = loans.apply(
            session,
            association.id,
            LoanApplication(
                contract_no=f"{association.code}-L{index:03d}",
                member_id=borrower.id,
                purpose=rng.choice(PURPOSES),
                amount_fen=amount,
                term_months=12,
                monthly_fee_rate_centipermille=config.monthly_fee_rate_centipermille,
                applied_on=today - timedelta(days=30),
                guarantor_ids=tuple(g.id for g in guarantors),
            ),
            actor=ACTOR,
        )
        loans.start_notice(session, loan.id, on=today - timedelta(days=28), actor=ACTOR)
        loans.council_approve(session, loan.id, on=today - timedelta(days=20), actor=ACTOR)
        loans.release_for_payment(session, loan.id, on=today - timedelta(days=14), actor=ACTOR)
        loans.mark_disbursed(
            session, loan.id, business_date=today - timedelta(days=13), actor=ACTOR
        )
        if index == 1:
            fee = loans.fee_fen(loan.amount_fen, loan.monthly_fee_rate_centipermille, 1)
            loans.record_repayment(
                session,
                loan.id,
                principal_fen=loan.amount_fen,
                fee_fen=fee,
                business_date=today - timedelta(days=2),
                actor=ACTOR,
            )
        entry.loans.append(loan)
    # One application over the county cap shows the rules at work: it is refused and recorded.
    if members and association.code.endswith("001"):
        try:
            loans.apply(
                session,
                association.id,
                LoanApplication(
                    contract_no=f"{association.code}-L999",
                    member_id=members[0].id,
                    purpose="超额申请",
                    amount_fen=seeded.county.loan_cap_fen + 100,
                    term_months=12,
                    monthly_fee_rate_centipermille=config.monthly_fee_rate_centipermille,
                    applied_on=today,
                    guarantor_ids=(),
                ),
                actor=ACTOR,
            )
        except RuleViolation as refusal:
            seeded.refusals.append((f"{association.code}-L999", refusal))
