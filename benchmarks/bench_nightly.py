"""The nightly cycle at province scale on PostgreSQL: 1,000 associations, 100,000 members,
20,000 instructions in one night (10,000 disbursements released, 10,000 collections due).

Night 1 creates the collections and builds, renders, stores and sends every batch; the bank
(the adapter's bank side) answers every file and writes a 20,000-line statement; night 2
fetches and ingests it all: instruction states, ledger postings, schedules, statement lines.
The bank's server is the in-memory transport, so the figures are the gateway's own work.
Set ``HUZHU_BENCH_POSTGRES_URL`` to use another server (a database is created and dropped).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from adapters.bankconfig import parse_bank_config
from adapters.records import (
    CreditDebit,
    Direction,
    InstructionResult,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
)
from adapters.registry import load_adapter
from adapters.sandbox.clock import BANK_TZ
from adapters.security import FileSecurity
from adapters.transport.base import UploadConventions
from adapters.transport.memory import MemoryTransport
from benchmarks import Section
from gateway.batches.banks import BankProfile
from gateway.batches.calendar import load_calendar
from gateway.db import make_engine, make_session_factory, session_scope
from gateway.jobs.pipeline import Nightly, StepOutcome, run_date
from gateway.ledger.models import CHART, LedgerAccount
from gateway.loans.models import Loan, LoanStatus
from gateway.members.models import Member
from gateway.migrations import upgrade
from gateway.org import service as org
from gateway.org.models import Association, AssociationStatus, PilotLevel
from gateway.payments.config import CollectionPolicy, PaymentsConfig
from gateway.payments.models import (
    InstructionStatus,
    PaymentInstruction,
    RepaymentMethod,
    RepaymentScheduleLine,
    ScheduleLineStatus,
)
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import REPO_ROOT as ROOT
from gateway.settings import PolicyDefaults

TITLE = "Nightly cycle at province scale (PostgreSQL)"
ADMIN_URL = os.environ.get(
    "HUZHU_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
COUNTIES, ASSOCIATIONS, MEMBERS, INSTRUCTIONS = 20, 1_000, 100_000, 20_000
TARGET_SECONDS = 300.0
NIGHT1 = date(2024, 7, 1)
NIGHT2 = date(2024, 7, 2)
CIPHER = FieldCipher(bytes(range(32)))


@contextmanager
def _database() -> Iterator[str]:
    name = f"huzhu_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed(session: Session, rng: random.Random, scale: int) -> None:
    """Counties, associations, members and loans, inserted in bulk (not measured)."""
    bank = org.get_or_create_bank(session, code="prov", name="省农村信用社联合社")
    now = datetime.now(UTC)
    per_county = ASSOCIATIONS // COUNTIES // scale
    associations: list[dict[str, object]] = []
    for c in range(COUNTIES):
        county = org.create_county(
            session,
            code=f"C{c:02d}",
            name=f"第{c + 1}县",
            fund_office_name=f"第{c + 1}县互助资金办",
            policy=PolicyDefaults(),
        )
        special = org.create_special_account(
            session, county, bank, account_number=f"91{c:04d}", name=f"第{c + 1}县互助资金专户"
        )
        town = org.create_town(session, county, code="T1", name="一镇")
        for a in range(per_county):
            associations.append(
                {
                    "code": f"C{c:02d}-{a:03d}",
                    "name": f"第{c + 1}县{a + 1}村互助协会",
                    "town_id": town.id,
                    "special_account_id": special.id,
                    "sub_account_number": f"91{c:04d}{a:04d}",
                    "pilot_level": PilotLevel.PROVINCIAL,
                    "start_date": date(2020, 1, 1),
                    "status": AssociationStatus.ACTIVE,
                    "created_at": now,
                }
            )
    session.execute(insert(Association), associations)
    ids = list(session.scalars(select(Association.id).order_by(Association.id)))
    session.execute(
        insert(LedgerAccount),
        [
            {
                "association_id": a,
                "code": code,
                "account_type": kind,
                "name_zh": zh,
                "name_en": en,
            }
            for a in ids
            for code, (kind, zh, en) in CHART.items()
        ],
    )
    members = []
    for n in range(MEMBERS // scale):
        card = f"623199{n:010d}"
        rid = f"371321199001{n:06d}"
        members.append(
            {
                "association_id": ids[n % len(ids)],
                "member_no": f"{n // len(ids) + 1:04d}",
                "name": f"会员{n}",
                "household_no": f"H{n}",
                "phone": "13800000000",
                "low_income": False,
                "credit_grade": "C",
                "deposit_fen": 0,
                "joined_on": date(2023, 1, 1),
                "card_cipher": CIPHER.encrypt("card", card),
                "card_hash": CIPHER.lookup_hash("card", card),
                "card_last4": card[-4:],
                "card_prefix": card[:6],
                "resident_id_cipher": CIPHER.encrypt("resident_id", rid),
                "resident_id_hash": CIPHER.lookup_hash("resident_id", rid),
                "resident_id_last4": rid[-4:],
                "created_at": now,
            }
        )
    for start in range(0, len(members), 10_000):
        session.execute(insert(Member), members[start : start + 10_000])
    member_rows = session.execute(
        select(Member.id, Member.association_id).order_by(Member.id)
    ).all()
    special_of = dict(session.execute(select(Association.id, Association.special_account_id)).all())
    half = INSTRUCTIONS // scale // 2
    loans = []
    for n in range(INSTRUCTIONS // scale):
        member_id, association_id = member_rows[(n * 5) % len(member_rows)]
        released = n < half
        loans.append(
            {
                "association_id": association_id,
                "member_id": member_id,
                "contract_no": f"L{n:06d}",
                "purpose": "养殖",
                "amount_fen": rng.choice((200_000, 300_000, 500_000, 800_000)),
                "term_months": 12 if released else 1,
                "monthly_fee_rate_centipermille": 600,
                "channel": "transfer",
                "cash_flagged": False,
                "status": LoanStatus.RELEASED if released else LoanStatus.DISBURSED,
                "applied_on": date(2024, 5, 1),
                "council_approved_on": date(2024, 5, 20),
                "released_on": NIGHT1 - timedelta(days=3) if released else date(2024, 5, 28),
                "disbursed_on": None if released else date(2024, 6, 1),
                "due_on": None if released else NIGHT1,
                "principal_repaid_fen": 0,
                "fee_paid_fen": 0,
                "was_overdue": False,
                "created_at": now,
            }
        )
    session.execute(insert(Loan), loans)
    loan_rows = session.execute(
        select(Loan.id, Loan.association_id, Loan.member_id, Loan.amount_fen, Loan.status)
    ).all()
    pending, lines = [], []
    for loan_id, association_id, member_id, amount, status in loan_rows:
        if status is LoanStatus.RELEASED:
            pending.append(
                {
                    "end_to_end_id": f"HZD{loan_id:010d}01",
                    "direction": Direction.DISBURSEMENT,
                    "status": InstructionStatus.PENDING,
                    "association_id": association_id,
                    "special_account_id": special_of[association_id],
                    "loan_id": loan_id,
                    "member_id": member_id,
                    "attempt": 1,
                    "amount_fen": amount,
                    "principal_fen": amount,
                    "fee_fen": 0,
                    "requested_date": NIGHT1 - timedelta(days=3),
                    "settled_amount_fen": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        else:
            lines.append(
                {
                    "loan_id": loan_id,
                    "instalment_no": 1,
                    "method": RepaymentMethod.LUMP_SUM,
                    "due_on": NIGHT1,
                    "principal_fen": amount,
                    "fee_fen": amount * 6 // 1000,
                    "paid_principal_fen": 0,
                    "paid_fee_fen": 0,
                    "attempts": 0,
                    "status": ScheduleLineStatus.OPEN,
                }
            )
    session.execute(insert(PaymentInstruction), pending)
    session.execute(insert(RepaymentScheduleLine), lines)


def _bank_answers(nightly: Nightly, server: MemoryTransport, rng: random.Random) -> int:
    """The bank books every file: mostly settled, some refused or partly collected."""
    adapter = nightly.profile("prov").adapter
    files = server.files()
    entries: list[StatementEntry] = []
    answered = 0
    for path, data in files.items():
        if not path.startswith("in/") or path.endswith((".done", ".sig")):
            continue
        batch = adapter.parse_instructions(data)
        results = []
        for item in batch.instructions:
            roll = rng.random()
            if roll < 0.02:
                results.append(
                    InstructionResult(
                        item.end_to_end_id, ResultStatus.REJECTED, 0, reason_code="AC04"
                    )
                )
                continue
            settled = item.amount_fen
            status = ResultStatus.SETTLED
            if batch.direction is Direction.COLLECTION and roll < 0.04:
                settled, status = item.amount_fen // 2, ResultStatus.PARTIALLY_SETTLED
            results.append(
                InstructionResult(
                    item.end_to_end_id,
                    status,
                    settled,
                    requested_amount_fen=item.amount_fen,
                    reason_code="AM04" if status is ResultStatus.PARTIALLY_SETTLED else None,
                    booking_date=NIGHT1,
                )
            )
            entries.append(
                StatementEntry(
                    booking_date=NIGHT1,
                    amount_fen=settled,
                    credit_debit=CreditDebit.CREDIT
                    if batch.direction is Direction.COLLECTION
                    else CreditDebit.DEBIT,
                    bank_transaction_id=f"BK{len(entries):09d}",
                    sub_account=item.creditor_account
                    if batch.direction is Direction.COLLECTION
                    else item.debtor_account,
                    end_to_end_id=item.end_to_end_id,
                    remittance=item.remittance,
                )
            )
        result = ResultFile(
            message_id=f"RS{answered:06d}",
            original_message_id=batch.message_id,
            created_at=datetime(2024, 7, 1, 16, tzinfo=BANK_TZ),
            results=tuple(results),
            group_status="PART",
        )
        server.put(f"out/RESULT_{batch.message_id}.txt", adapter.render_result(result, batch))
        answered += 1
    by_account: dict[str, list[StatementEntry]] = {}
    for entry in entries:
        by_account.setdefault((entry.sub_account or "")[:6], []).append(entry)
    for account, lines in by_account.items():
        statement = Statement(
            statement_id=f"STMT{account}",
            account=account,
            created_at=datetime(2024, 7, 1, 20, tzinfo=BANK_TZ),
            from_date=NIGHT1,
            to_date=NIGHT1,
            entries=tuple(lines),
            opening_balance_fen=10**12,
            closing_balance_fen=10**12 + sum(e.signed_amount_fen for e in lines),
        )
        server.put(f"out/STMT_{account}_20240701.txt", adapter.render_statement(statement))
    return answered


def _profile() -> BankProfile:
    raw = {
        "bank": {"code": "prov", "name": "省农村信用社联合社"},
        "adapter": {"name": "cn_text", "layout": "layouts/rcb_pipe.toml"},
        "sftp": {
            "host": "127.0.0.1",
            "username": "province",
            "private_key_path": "/nonexistent",
            "known_hosts_path": "/nonexistent",
        },
        "files": {
            "disbursement_name": "DF_{bank}_{date:%Y%m%d}_{seq:03d}.txt",
            "collection_name": "DK_{bank}_{date:%Y%m%d}_{seq:03d}.txt",
            "result_patterns": ["RESULT_*.txt"],
            "statement_patterns": ["STMT_*.txt"],
        },
        "limits": {"max_lines_per_file": 5000},
    }
    config = parse_bank_config(raw, source=ROOT / "config" / "banks" / "prov.toml")
    adapter = load_adapter(
        config.adapter.name, config.adapter.options, config_dir=config.config_dir
    )
    calendar = load_calendar(ROOT / "config" / "calendar" / "cn.toml")
    return BankProfile(config=config, adapter=adapter, security=FileSecurity(), calendar=calendar)


def _timed(
    nightly: Nightly,
    day: date,
    timings: dict[str, float],
    statements: dict[str, int],
    executed: list[int],
) -> list[StepOutcome]:
    """Runs the date, keeping each step's seconds and SQL statements (``executed[0]`` is the
    engine's running count of statements)."""
    last = time.perf_counter()
    last_count = executed[0]

    def step_done(outcome: StepOutcome) -> None:
        nonlocal last, last_count
        now = time.perf_counter()
        key = f"{day} {outcome.step}"
        timings[key] = timings.get(key, 0.0) + now - last
        statements[key] = statements.get(key, 0) + executed[0] - last_count
        last, last_count = now, executed[0]

    return run_date(nightly, day, on_step=step_done)


def run(scale: int = 1) -> Section:
    """``scale`` divides the load (for trying the benchmark quickly)."""
    section = Section(TITLE)
    rng = random.Random(20240701)
    with _database() as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine)
            started = time.perf_counter()
            with session_scope(factory) as session:
                _seed(session, rng, scale)
            seeded = time.perf_counter() - started
            server = MemoryTransport(
                UploadConventions(marker_suffix=".done", processed_folder="out/processed"),
                folders=["in", "out"],
            )
            profile = _profile()
            payments = PaymentsConfig(
                collections=CollectionPolicy(repayment_method=RepaymentMethod.LUMP_SUM)
            )
            nightly = Nightly(
                factory=factory,
                payments=payments,
                cipher=CIPHER,
                profile_loader=lambda code: profile,
                transport_factory=lambda p: server,
            )
            timings: dict[str, float] = {}
            statements: dict[str, int] = {}
            executed = [0]

            def count(*_: object) -> None:
                executed[0] += 1

            sa.event.listen(engine, "before_cursor_execute", count)
            night1 = _timed(nightly, NIGHT1, timings, statements, executed)
            answered = _bank_answers(nightly, server, rng)
            night2 = _timed(nightly, NIGHT2, timings, statements, executed)
            with session_scope(factory) as session:
                states = dict(
                    session.execute(
                        select(PaymentInstruction.status, sa.func.count()).group_by(
                            PaymentInstruction.status
                        )
                    ).all()
                )
        finally:
            engine.dispose()
    total = sum(timings.values())
    failed = [f"{o.business_date} {o.step}: {o.error}" for o in night1 + night2 if o.error]
    open_left = sum(
        states.get(s, 0)
        for s in (InstructionStatus.PENDING, InstructionStatus.BATCHED, InstructionStatus.SENT)
    )
    section.add(
        "two nights, all steps (20,000 instructions sent, answered and booked)",
        f"{total:.1f} s",
        f"< {TARGET_SECONDS:.0f} s",
        total < TARGET_SECONDS and not failed and open_left == 0,
    )
    for key, seconds in timings.items():
        section.add(
            f"step {key}", f"{seconds:.1f} s ({statements.get(key, 0):,} SQL statements)", "", True
        )
    section.notes.append(
        f"{COUNTIES} counties, {ASSOCIATIONS:,} associations, {MEMBERS:,} members; "
        f"{INSTRUCTIONS // 2:,} disbursements released and {INSTRUCTIONS // 2:,} collections "
        f"due on {NIGHT1}; {answered} batch files answered by the bank (2% refused, 2% of "
        "collections partly collected) and one statement per special account."
    )
    section.notes.append(
        "instruction states after night 2: "
        + ", ".join(
            f"{k.value} {v:,}" for k, v in sorted(states.items(), key=lambda kv: kv[0].value)
        )
    )
    section.notes.append(
        f"seeding in bulk (not measured): {seeded:.1f} s; the bank's server is the in-memory "
        "transport, so the figures are the gateway's work (render, store, ingest, post)."
    )
    section.notes.append(
        "results are booked as a set per file: full settlements applied in memory, their "
        "postings, transitions and schedules written with multi-row inserts (the ledger's "
        "balance triggers still check every transaction), one audit event per association "
        "chain per file; refusals and partial collections take the single-instruction path. "
        "Load average of the machine at the end of the run: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )
    if failed:
        section.notes.append("failed steps: " + "; ".join(failed))
    return section
