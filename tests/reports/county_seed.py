"""A seeded county for the report tests: association A with a varied loan book (repaid,
partly repaid, overdue past 30 days, cash, a large loan without county approval, over 12
months), deposits, capital by level, income, expenses, a fee transfer to capital and a bank
statement; association B with a plain loan and no statement."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution, record_member_deposit
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.ledger.models import AccountCode, LedgerChannel, TransactionKind
from gateway.ledger.service import Posting, balance, post
from gateway.loans import service as loans
from gateway.loans.models import Loan
from gateway.loans.schemas import LoanApplication
from gateway.members.models import Member
from gateway.org.models import Association, County
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World, build_world

AS_OF = date(2024, 6, 30)
GRADES = [
    {"grade": "C", "min_on_time_loans": 0, "limit_fen": 3_000_000},
    {"grade": "B", "min_on_time_loans": 1, "limit_fen": 3_000_000},
    {"grade": "A", "min_on_time_loans": 2, "limit_fen": 3_000_000},
]


@dataclass
class Seeded:
    world: World
    loans: dict[str, Loan]

    @property
    def session(self) -> Session:
        return self.world.session


def lend(
    world: World,
    borrower: Member,
    contract_no: str,
    *,
    amount_fen: int,
    term_months: int,
    rate: int,
    disbursed_on: date,
    purpose: str = "养殖",
    channel: LedgerChannel = LedgerChannel.TRANSFER,
    county_approve: bool = False,
) -> Loan:
    """Walk a loan through the loan service up to its disbursement on ``disbursed_on``."""
    session = world.session
    applied = disbursed_on - timedelta(days=20)
    loan = loans.apply(
        session,
        borrower.association_id,
        LoanApplication(
            contract_no=contract_no,
            member_id=borrower.id,
            purpose=purpose,
            amount_fen=amount_fen,
            term_months=term_months,
            monthly_fee_rate_centipermille=rate,
            applied_on=applied,
            guarantor_ids=tuple(g.id for g in world.default_guarantors(borrower)),
            channel=channel,
        ),
    )
    loans.start_notice(session, loan.id, on=applied)
    loans.council_approve(session, loan.id, on=applied + timedelta(days=8))
    if county_approve:
        loans.county_approve(session, loan.id, on=applied + timedelta(days=9))
    loans.release_for_payment(session, loan.id, on=disbursed_on)
    return loans.mark_disbursed(session, loan.id, business_date=disbursed_on)


def repay(
    world: World,
    loan: Loan,
    principal_fen: int,
    fee_fen: int,
    on: date,
    channel: LedgerChannel = LedgerChannel.TRANSFER,
) -> None:
    loans.record_repayment(
        world.session,
        loan.id,
        principal_fen=principal_fen,
        fee_fen=fee_fen,
        business_date=on,
        channel=channel,
    )


def _book(
    world: World, debit: AccountCode, credit: AccountCode, fen: int, on: date, kind: str
) -> None:
    post(
        world.session,
        association_id=world.a.id,
        business_date=on,
        description=f"{kind} {fen}",
        kind=kind,
        legs=[Posting.debit(debit, fen), Posting.credit(credit, fen)],
    )


def add_statement(
    session: Session,
    sub_account: str,
    lines: list[tuple[date, int, bool, str, int | None]],
    *,
    name: str = "STMT_20240630.txt",
) -> None:
    """Statement lines as ingestion stores them: (date, amount, credit, channel, balance)."""
    file = InboundFile(
        bank_code="tbank",
        name=name,
        remote_path=f"out/{name}",
        kind=InboundKind.STATEMENT,
        sha256=f"{abs(hash((name, sub_account))):064d}"[:64],
        size=1,
        content=b"-",
        status=InboundStatus.APPLIED,
        business_date=lines[-1][0],
    )
    session.add(file)
    session.flush()
    for n, (on, amount, credit, channel, after) in enumerate(lines):
        session.add(
            StatementLine(
                inbound_file_id=file.id,
                bank_code=file.bank_code,
                account="6200001",
                sub_account=sub_account,
                dedupe_key=f"txn:{name}:{n}",
                booking_date=on,
                amount_fen=amount,
                credit=credit,
                channel=channel,
                balance_after_fen=after,
            )
        )
    session.flush()


def seed_county(session: Session, cipher: FieldCipher) -> Seeded:
    world = build_world(
        session, cipher, capital_fen=0, cash_mode="transitional", credit_grades=GRADES
    )
    a, m = world.a, world.members_a
    # members of long standing: their deposits and loans go back to 2022
    for member in (*world.members_a, *world.members_b):
        member.joined_on = date(2021, 6, 1)
    record_contribution(
        session,
        association_id=a.id,
        source=CapitalSource.CENTRAL,
        amount_fen=10_000_000,
        received_on=date(2022, 1, 5),
    )
    record_contribution(
        session,
        association_id=a.id,
        source=CapitalSource.PROVINCIAL,
        amount_fen=2_000_000,
        received_on=date(2022, 1, 5),
    )
    record_contribution(
        session,
        association_id=a.id,
        source=CapitalSource.DONATION,
        amount_fen=200_000,
        received_on=date(2023, 2, 1),
    )
    for member, deposit in zip(m, (50_000, 30_000, 100_000, 20_000, 0, 80_000), strict=True):
        if deposit:
            record_member_deposit(
                session, member_id=member.id, amount_fen=deposit, received_on=date(2022, 1, 10)
            )
    m[0].low_income = True
    m[1].low_income = True
    session.flush()

    made: dict[str, Loan] = {}
    made["L6"] = lend(
        world,
        m[5],
        "A-L6",
        amount_fen=600_000,
        term_months=12,
        rate=600,
        disbursed_on=date(2022, 5, 1),
    )
    repay(world, made["L6"], 600_000, 43_200, date(2023, 5, 1), LedgerChannel.CASH)
    made["L1"] = lend(
        world,
        m[0],
        "A-L1",
        amount_fen=800_000,
        term_months=12,
        rate=600,
        disbursed_on=date(2023, 1, 10),
    )
    repay(world, made["L1"], 800_000, 57_600, date(2023, 12, 20))
    # A large loan paid out while the threshold stood higher: no county approval on record.
    # No county may set it above 20,000 yuan now (the County row refuses it), so the row is
    # written as the database of a county that set it before kept it.
    county = world.county
    session.execute(
        update(County).where(County.id == county.id).values(county_approval_above_fen=3_000_000)
    )
    made["L3"] = lend(
        world,
        m[2],
        "A-L3",
        amount_fen=2_500_000,
        term_months=12,
        rate=600,
        disbursed_on=date(2023, 3, 1),
    )
    county.county_approval_above_fen = 2_000_000
    made["L4"] = lend(
        world,
        m[3],
        "A-L4",
        amount_fen=1_000_000,
        term_months=18,
        rate=450,
        disbursed_on=date(2023, 6, 1),
        channel=LedgerChannel.CASH,
    )
    repay(world, made["L4"], 100_000, 0, date(2024, 2, 1))
    made["L2"] = lend(
        world,
        m[1],
        "A-L2",
        amount_fen=500_000,
        term_months=6,
        rate=500,
        disbursed_on=date(2024, 1, 15),
    )
    repay(world, made["L2"], 200_000, 5_000, date(2024, 4, 15))
    made["L7"] = lend(
        world,
        m[0],
        "A-L7",
        amount_fen=900_000,
        term_months=10,
        rate=650,
        disbursed_on=date(2024, 2, 1),
        purpose="种植",
    )
    made["L5"] = lend(
        world,
        m[4],
        "A-L5",
        amount_fen=300_000,
        term_months=3,
        rate=600,
        disbursed_on=date(2024, 3, 10),
    )
    loans.mark_overdue(session, made["L3"].id)
    loans.mark_overdue(session, made["L5"].id)

    _book(
        world,
        AccountCode.EXPENSE_STAFF,
        AccountCode.BANK_SUB_ACCOUNT,
        120_000,
        date(2024, 1, 31),
        TransactionKind.EXPENSE,
    )
    _book(
        world,
        AccountCode.EXPENSE_OFFICE,
        AccountCode.BANK_SUB_ACCOUNT,
        35_050,
        date(2024, 2, 29),
        TransactionKind.EXPENSE,
    )
    _book(
        world,
        AccountCode.EXPENSE_DIVIDENDS,
        AccountCode.BANK_SUB_ACCOUNT,
        80_000,
        date(2023, 12, 31),
        TransactionKind.EXPENSE,
    )
    _book(
        world,
        AccountCode.EXPENSE_OTHER,
        AccountCode.BANK_SUB_ACCOUNT,
        9_999,
        date(2024, 5, 31),
        TransactionKind.EXPENSE,
    )
    _book(
        world,
        AccountCode.BANK_SUB_ACCOUNT,
        AccountCode.DEPOSIT_INTEREST,
        12_345,
        date(2024, 3, 21),
        TransactionKind.DEPOSIT_INTEREST,
    )
    _book(
        world,
        AccountCode.FEE_INCOME,
        AccountCode.OTHER_CAPITAL,
        50_000,
        date(2024, 1, 5),
        "fee_to_capital",
    )

    # Association B: one plain loan, repaid on time.
    record_contribution(
        session,
        association_id=world.b.id,
        source=CapitalSource.MUNICIPAL,
        amount_fen=5_000_000,
        received_on=date(2023, 12, 1),
    )
    made["B1"] = lend(
        world,
        world.members_b[0],
        "B-L1",
        amount_fen=400_000,
        term_months=6,
        rate=600,
        disbursed_on=date(2024, 1, 2),
    )
    repay(world, made["B1"], 400_000, 14_400, date(2024, 6, 20))

    bank = balance(session, a.id, AccountCode.BANK_SUB_ACCOUNT, AS_OF)
    add_statement(
        session,
        a.sub_account_number,
        [
            (date(2024, 6, 1), 1_000, True, "cash", None),
            (date(2024, 6, 28), 1_000, False, "transfer", bank),
        ],
    )
    session.flush()
    return Seeded(world=world, loans=made)


def load_seeded(session: Session, cipher: FieldCipher) -> Seeded:
    """The seeded county read back from a database :func:`seed_county` filled (a copy of the
    once-built template), with the same handles the tests use."""
    county = session.scalars(select(County).where(County.code == "TC")).one()
    a, b = session.scalars(select(Association).order_by(Association.code)).all()

    def members(association: Association) -> list[Member]:
        return list(
            session.scalars(
                select(Member)
                .where(Member.association_id == association.id)
                .order_by(Member.member_no)
            )
        )

    world = World(
        session=session,
        cipher=cipher,
        county=county,
        a=a,
        b=b,
        members_a=members(a),
        members_b=members(b),
        rng=random.Random(7),
    )
    made = {
        loan.contract_no.split("-", 1)[1] if loan.contract_no.startswith("A-") else "B1": loan
        for loan in session.scalars(select(Loan))
    }
    return Seeded(world=world, loans=made)
