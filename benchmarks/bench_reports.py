"""The county's evaluation reports at scale: 200 associations, 12,000 members and 10,000
loans with their postings, on SQLite. Measures the county summary (attachment 1 figures of
every association, attachment 3 rows) and its XLSX export, and checks the totals against the
generated books."""

from __future__ import annotations

import random
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from benchmarks import Section
from gateway.db import make_engine, make_session_factory
from gateway.ledger.models import (
    AccountCode,
    JournalLeg,
    JournalTransaction,
    LedgerAccount,
    LedgerChannel,
    TransactionKind,
)
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import Member, MemberStatus
from gateway.migrations import upgrade
from gateway.org import service as org
from gateway.org.models import PilotLevel
from gateway.reports import export
from gateway.reports.scoring import load_grading_config
from gateway.reports.service import county_summary
from gateway.settings import PolicyDefaults

TITLE = "Evaluation reports: a county of 200 associations and 10,000 loans"

ASSOCIATIONS = 200
MEMBERS = 60
LOANS = 50
AS_OF = date(2024, 6, 30)
ROOT = Path(__file__).resolve().parent.parent


def _journal(
    rows: list[dict[str, object]],
    legs: list[dict[str, object]],
    association_id: int,
    accounts: dict[AccountCode, int],
    on: date,
    kind: str,
    entries: list[tuple[AccountCode, int, int, str]],
) -> None:
    tid = uuid.uuid4()
    for code, debit, credit, memo in entries:
        legs.append(
            {
                "transaction_id": tid,
                "account_id": accounts[code],
                "debit_fen": debit,
                "credit_fen": credit,
                "memo": memo,
            }
        )
    rows.append(
        {
            "id": tid,
            "association_id": association_id,
            "business_date": on,
            "description": kind,
            "kind": kind,
            "channel": LedgerChannel.TRANSFER,
            "cash_flagged": False,
            "total_fen": sum(e[1] for e in entries),
            "created_by": "bench",
        }
    )


def build(session: Session, rng: random.Random) -> tuple[int, int, int]:
    """The county; returns its id, the total lent and the number of overdue loans."""
    county = org.create_county(
        session, code="BC", name="基准县", fund_office_name="基准县互助资金办",
        policy=PolicyDefaults(),
    )  # fmt: skip
    bank = org.get_or_create_bank(session, code="bbank", name="基准农商行")
    special = org.create_special_account(
        session, county, bank, account_number="8800001", name="基准县专户"
    )
    town = org.create_town(session, county, code="B1", name="基准镇")
    lent = overdue = 0
    for n in range(ASSOCIATIONS):
        association = org.create_association(
            session, code=f"BC-{n:04d}", name=f"基准{n}村互助协会", town=town,
            special_account=special, sub_account_number=f"8800001-{n:04d}",
            pilot_level=PilotLevel.PROVINCIAL, start_date=date(2019, 1, 1),
        )  # fmt: skip
        accounts = {
            a.code: a.id
            for a in session.scalars(
                select(LedgerAccount).where(LedgerAccount.association_id == association.id)
            )
        }
        members = [
            {
                "association_id": association.id,
                "member_no": f"{m:04d}",
                "name": f"会员{m}",
                "household_no": f"{n}-{m}",
                "phone": "13800000000",
                "low_income": m % 3 == 0,
                "credit_grade": "C",
                "deposit_fen": 50_000,
                "status": MemberStatus.ACTIVE,
                "joined_on": date(2019, 3, 1),
                "card_cipher": b"-",
                "card_hash": f"c{n:04d}{m:04d}",
                "card_last4": "0000",
                "card_prefix": "623199",
                "resident_id_cipher": b"-",
                "resident_id_hash": f"r{n:04d}{m:04d}",
                "resident_id_last4": "0000",
            }
            for m in range(MEMBERS)
        ]
        session.execute(insert(Member), members)
        member_ids = list(
            session.scalars(select(Member.id).where(Member.association_id == association.id))
        )
        rows: list[dict[str, object]] = []
        legs: list[dict[str, object]] = []
        _journal(rows, legs, association.id, accounts, date(2019, 1, 5), "capital_contribution",
                 [(AccountCode.BANK_SUB_ACCOUNT, 30_000_000, 0, ""),
                  (AccountCode.FISCAL_CENTRAL, 0, 30_000_000, "")])  # fmt: skip
        loans = []
        for k in range(LOANS):
            amount = rng.randrange(100, 300) * 10_000
            term = rng.choice((6, 12, 12, 18))
            disbursed = AS_OF - timedelta(days=rng.randrange(30, 900))
            due = disbursed + timedelta(days=30 * term)
            repaid = due < AS_OF and rng.random() < 0.9
            late = due < AS_OF and not repaid
            contract = f"BC{n:04d}-{k:03d}"
            fee = amount * 600 * term // 100_000
            loans.append(
                {
                    "association_id": association.id,
                    "member_id": member_ids[k % MEMBERS],
                    "contract_no": contract,
                    "purpose": "养殖",
                    "amount_fen": amount,
                    "term_months": term,
                    "monthly_fee_rate_centipermille": 600,
                    "channel": LedgerChannel.TRANSFER,
                    "cash_flagged": False,
                    "status": LoanStatus.REPAID
                    if repaid
                    else (LoanStatus.OVERDUE if late else LoanStatus.DISBURSED),
                    "applied_on": disbursed - timedelta(days=20),
                    "disbursed_on": disbursed,
                    "due_on": due,
                    "principal_repaid_fen": amount if repaid else 0,
                    "fee_paid_fen": fee if repaid else 0,
                    "repaid_on": due if repaid else None,
                    "repaid_on_time": True if repaid else None,
                    "was_overdue": late,
                }
            )
            _journal(rows, legs, association.id, accounts, disbursed, TransactionKind.DISBURSEMENT,
                     [(AccountCode.LOANS_RECEIVABLE, amount, 0, contract),
                      (AccountCode.BANK_SUB_ACCOUNT, 0, amount, contract)])  # fmt: skip
            if repaid:
                _journal(rows, legs, association.id, accounts, due, TransactionKind.REPAYMENT,
                         [(AccountCode.BANK_SUB_ACCOUNT, amount + fee, 0, contract),
                          (AccountCode.LOANS_RECEIVABLE, 0, amount, contract),
                          (AccountCode.FEE_INCOME, 0, fee, contract)])  # fmt: skip
            lent += amount
            overdue += int(late)
        session.execute(insert(Loan), loans)
        session.execute(insert(JournalLeg), legs)
        session.execute(insert(JournalTransaction), rows)
    session.flush()
    return county.id, lent, overdue


def run() -> Section:
    section = Section(TITLE)
    scoring = load_grading_config(ROOT / "config" / "grading.toml").evaluation
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        session = make_session_factory(engine)()
        started = time.perf_counter()
        county_id, lent, overdue = build(session, random.Random(11))
        session.commit()
        built = time.perf_counter() - started

        started = time.perf_counter()
        summary = county_summary(session, county_id, scoring, as_of=AS_OF)
        elapsed = time.perf_counter() - started
        started = time.perf_counter()
        book = export.new_workbook()
        export.county_summary_sheet(book, summary)
        export.save(book, Path(folder) / "county.xlsx")
        written = time.perf_counter() - started
        session.close()
        engine.dispose()

    total = sum(row.loans_amount_fen for row in summary.rows)
    late = sum(row.overdue_count for row in summary.rows)
    per = elapsed / ASSOCIATIONS
    section.add("associations summarised", str(len(summary.rows)), str(ASSOCIATIONS),
                len(summary.rows) == ASSOCIATIONS)  # fmt: skip
    section.add("loans lent (sum of rows)", export.yuan(total), export.yuan(lent), total == lent)
    section.add("overdue loans (sum of rows)", str(late), str(overdue), late == overdue)
    section.add("county summary (attachment 1 figures + attachment 3)", f"{elapsed:.1f} s",
                "< 60 s", elapsed < 60)  # fmt: skip
    section.add("per association", f"{per * 1000:.0f} ms", "< 300 ms", per < 0.3)
    section.add("attachment 3 XLSX written", f"{written:.2f} s", "< 5 s", written < 5)
    section.notes.append(
        f"{ASSOCIATIONS} associations × {MEMBERS} members × {LOANS} loans, books bulk-loaded "
        f"in {built:.1f} s (not measured); SQLite, one process."
    )
    return section
