"""``huzhu reconcile`` end to end: 1,000,000 bank lines against 1,000,000 book entries.

For SQLite and for PostgreSQL: a county with 100 associations in one special account, a
previous night already reconciled, 1,000,000 journal transactions on the sub-accounts and the
bank's statement of the day (the rural bank's pipe-delimited GB18030 text, stored as the
fetched inbound file) with 1% anomalies: bank lines nobody booked, cash deposits, lines printed
twice, amounts that differ from the books, book entries the bank never showed. The timed part
is the ``huzhu reconcile --date D --account A`` process: it parses the statement file, loads the
book, matches, books nothing wrong, stores the exceptions in the mismatch queue and the daily
statement. Its peak memory is the process's maximum resident set size. Afterwards the queue is
checked: every anomaly found as its kind, nothing else.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from adapters.records import Statement, SubAccountBalance
from benchmarks import Section
from gateway.capital.models import CapitalSource
from gateway.capital.service import record_contribution
from gateway.db import make_engine, make_session_factory, utcnow
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.ledger.models import AccountCode, LedgerAccount
from gateway.migrations import upgrade
from gateway.models import load_all_models
from gateway.org import service as org
from gateway.org.models import Association, PilotLevel
from gateway.queue.models import QueueItem
from gateway.reconcile.models import ReconRun
from gateway.reconcile.service import reconcile_account
from gateway.settings import PolicyDefaults

TITLE = "huzhu reconcile end to end: 1,000,000 bank lines against 1,000,000 book entries"

ENTRIES = 1_000_000
ANOMALIES = 2_000  # of each of five kinds: 1% in all
ASSOCIATIONS = 100
DAY = date(2024, 7, 2)
PREVIOUS = DAY - timedelta(days=1)
ACCOUNT = "6230910100000012345"
BANK = "rcb"  # config/banks/rcb.toml: the pipe-delimited text layout
CAPITAL_FEN = 10_000_000_000
TARGET_SECONDS = 60.0
TARGET_MEMORY_MB = 2048
REPO = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "HUZHU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
EXPECTED = {
    "unmatched_bank": ANOMALIES,
    "village_cash": ANOMALIES,
    "duplicate": ANOMALIES,
    "amount_mismatch": ANOMALIES,
    "unmatched_book": ANOMALIES,
}


def _amount(n: int) -> int:
    return 100 + (n * 7919) % 3_000_000


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def _subs() -> list[str]:
    return [f"{ACCOUNT}{n:04d}" for n in range(ASSOCIATIONS)]


# --- the county and its books ------------------------------------------------------------------


def _county(session: Session) -> int:
    county = org.create_county(
        session,
        code="BENCH",
        name="基准县",
        fund_office_name="基准县互助资金办",
        policy=PolicyDefaults(),
    )
    bank = org.get_or_create_bank(session, code=BANK, name="示范县农村商业银行")
    special = org.create_special_account(
        session, county, bank, account_number=ACCOUNT, name="基准县扶贫互助资金专户"
    )
    town = org.create_town(session, county, code="B1", name="基准镇")
    for n, sub in enumerate(_subs()):
        association = org.create_association(
            session,
            code=f"BENCH-{n:03d}",
            name=f"基准{n}村互助协会",
            town=town,
            special_account=special,
            sub_account_number=sub,
            pilot_level=PilotLevel.PROVINCIAL,
            start_date=date(2020, 1, 1),
        )
        record_contribution(
            session,
            association_id=association.id,
            source=CapitalSource.CENTRAL,
            amount_fen=CAPITAL_FEN,
            received_on=DAY - timedelta(days=60),
        )
    return special.id


def _previous_night(session: Session, special_id: int) -> None:
    """The night before, reconciled already: balances as the books have them, no lines."""
    subs = _subs()
    statement = Statement(
        statement_id=f"STMT{PREVIOUS:%Y%m%d}",
        account=ACCOUNT,
        created_at=None,
        from_date=PREVIOUS,
        to_date=PREVIOUS,
        entries=(),
        opening_balance_fen=CAPITAL_FEN * len(subs),
        closing_balance_fen=CAPITAL_FEN * len(subs),
        sub_account_balances=tuple(SubAccountBalance(s, CAPITAL_FEN, CAPITAL_FEN) for s in subs),
    )
    outcome = reconcile_account(session, special_id, PREVIOUS, statement=statement)
    assert outcome.exceptions == (), outcome.kinds


def _account_map(session: Session) -> list[tuple[int, int, int, int]]:
    """(index, association id, bank account id, loans account id) in sub-account order."""
    rows = session.execute(
        select(Association.id, Association.sub_account_number).order_by(
            Association.sub_account_number
        )
    ).all()
    accounts = {
        (a, code): acc_id
        for acc_id, a, code in session.execute(
            select(LedgerAccount.id, LedgerAccount.association_id, LedgerAccount.code)
        ).all()
    }
    return [
        (
            i,
            a,
            accounts[(a, AccountCode.BANK_SUB_ACCOUNT)],
            accounts[(a, AccountCode.LOANS_RECEIVABLE)],
        )
        for i, (a, _sub) in enumerate(rows)
    ]


_SEQ_SQLITE = (
    "WITH RECURSIVE seq(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM seq WHERE n < :count - 1)"
)


def _journal(session: Session, *, first: int, count: int, business_date: date) -> None:
    """``count`` journal transactions numbered from ``first``: one in three a disbursement
    (Cr bank), the rest repayments (Dr bank), each referenced ``BE<number>``, generated in the
    database itself."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        seq, tid, ref = _SEQ_SQLITE, "printf('%032x', n + :first)", "printf('BE%010d', n + :first)"
        source = "seq JOIN bench_map m ON m.idx = (n + :first) % :assocs"
    else:
        seq = ""
        tid = "lpad(to_hex(n + :first), 32, '0')::uuid"
        ref = "'BE' || lpad((n + :first)::text, 10, '0')"
        source = (
            "generate_series(0::bigint, :count - 1) AS g(n) "
            "JOIN bench_map m ON m.idx = (n + :first) % :assocs"
        )
    amount = "(100 + ((n + :first) * 7919) % 3000000)"
    out = "((n + :first) % 3 = 0)"
    params = {"first": first, "count": count, "assocs": ASSOCIATIONS}
    for debit_bank in (True, False):
        account = (
            f"CASE WHEN {out} THEN m.loans_account ELSE m.bank_account END"
            if debit_bank
            else f"CASE WHEN {out} THEN m.bank_account ELSE m.loans_account END"
        )
        session.execute(
            text(
                f"{seq} INSERT INTO journal_legs (transaction_id, account_id, debit_fen, "
                f"credit_fen, memo) SELECT {tid}, {account}, "
                f"{amount if debit_bank else '0'}, {'0' if debit_bank else amount}, '' "
                f"FROM {source}"
            ),
            params,
        )
    header = text(
        f"{seq} INSERT INTO journal_transactions (id, association_id, business_date, "
        "description, kind, channel, cash_flagged, external_ref, total_fen, reversal_of, "
        f"created_by, created_at) SELECT {tid}, m.association_id, :day, '基准', "
        f"CASE WHEN {out} THEN 'disbursement' ELSE 'repayment' END, 'transfer', "
        f"{'0' if sqlite else 'false'}, {ref}, {amount}, NULL, 'bench', :created "
        f"FROM {source}"
    ).bindparams(
        bindparam("day", type_=sa.Date()),
        bindparam("created", type_=sa.DateTime(timezone=True)),
    )
    session.execute(header, {**params, "day": business_date, "created": utcnow()})


def _book(session: Session) -> None:
    session.execute(
        text(
            "CREATE TEMP TABLE bench_map (idx INTEGER PRIMARY KEY, association_id INTEGER, "
            "bank_account INTEGER, loans_account INTEGER)"
        )
    )
    session.execute(
        text("INSERT INTO bench_map VALUES (:i, :a, :b, :l)"),
        [{"i": i, "a": a, "b": b, "l": lo} for i, a, b, lo in _account_map(session)],
    )
    if session.get_bind().dialect.name != "sqlite":
        # generated, balanced rows: the per-row journal checks are skipped for the bulk load
        session.execute(text("SET LOCAL session_replication_role = replica"))
    _journal(session, first=0, count=ENTRIES, business_date=DAY)
    # entries the bank never shows: booked three days earlier, seen since the last night
    _journal(session, first=ENTRIES, count=ANOMALIES, business_date=DAY - timedelta(days=3))


# --- the bank's statement ----------------------------------------------------------------------


def _statement_bytes() -> bytes:
    """The day's statement in the rcb pipe layout, with its anomalies; ``BE<n>`` links a line
    to journal transaction ``n``."""
    subs = _subs()
    moved = dict.fromkeys(subs, 0)
    details: list[str] = []
    debit_sum = credit_sum = debit_count = 0
    d = f"{DAY:%Y%m%d}"

    def add(txn: str, sub: str, fen: int, debit: bool, cp: str, summary: str, e2e: str) -> None:
        nonlocal debit_sum, credit_sum, debit_count
        if debit:
            debit_sum += fen
            debit_count += 1
            moved[sub] -= fen
        else:
            credit_sum += fen
            moved[sub] += fen
        details.append(
            f"D|{len(details) + 1}|{txn}|{d}|{d}|{sub}|{'借' if debit else '贷'}|{_yuan(fen)}||"
            f"{cp}|张三|{summary}|第1期|{e2e}|0||"
        )

    for n in range(ENTRIES):
        sub = subs[n % ASSOCIATIONS]
        fen = _amount(n) + (1 if n % 500 == 7 else 0)  # an amount the books do not have
        debit = n % 3 == 0
        line = (f"BK{n:012d}", sub, fen, debit, f"6217{n:015d}")
        add(*line, "批量代发" if debit else "批量代扣", f"BE{n:010d}")
        if n % 500 == 11:  # printed twice
            add(*line, "批量代发" if debit else "批量代扣", f"BE{n:010d}")
    for k in range(ANOMALIES):
        sub = subs[k % ASSOCIATIONS]
        add(f"BX{k:012d}", sub, 5_000 + k, False, f"6228{k:015d}", "跨行汇款", "")
        add(f"BC{k:012d}", sub, 20_000 + k, False, "", "现金存款", "")
    opening = CAPITAL_FEN
    balances = [f"B|{s}|{_yuan(opening)}|{_yuan(opening + moved[s])}|" for s in subs]
    total_open = opening * len(subs)
    total_close = total_open + credit_sum - debit_sum
    header = (
        f"H|DZ|STMT{d}|{ACCOUNT}|基准县扶贫互助资金专户|CNY|{d}|{d}|{d}200000|"
        f"{_yuan(total_open)}|{_yuan(total_close)}|"
    )
    trailer = (
        f"T|{len(details)}|{debit_count}|{_yuan(debit_sum)}|{len(details) - debit_count}|"
        f"{_yuan(credit_sum)}|"
    )
    return ("\r\n".join([header, *balances, *details, trailer]) + "\r\n").encode("gb18030")


def _store_statement(session: Session, data: bytes) -> None:
    session.add(
        InboundFile(
            bank_code=BANK,
            name=f"STMT_{DAY:%Y%m%d}.txt",
            remote_path=f"out/STMT_{DAY:%Y%m%d}.txt",
            kind=InboundKind.STATEMENT,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content=data,
            status=InboundStatus.APPLIED,
            business_date=DAY + timedelta(days=1),
        )
    )


# --- one database ------------------------------------------------------------------------------


_CHILD = """
import resource, sys
from gateway.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print("MAXRSS_KB", usage.ru_maxrss, file=sys.stderr)
    print("CPU_S", usage.ru_utime + usage.ru_stime, file=sys.stderr)
"""


def _prepare(url: str) -> None:
    upgrade(url)
    load_all_models()
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with factory() as session:
            special_id = _county(session)
            session.commit()
            _previous_night(session, special_id)
            session.commit()
            _book(session)
            _store_statement(session, _statement_bytes())
            session.commit()
            # what autovacuum does after a bulk load: the planner sees the tables' real sizes
            session.execute(text("ANALYZE"))
            session.commit()
    finally:
        engine.dispose()


ARGS = ("--account", ACCOUNT, "--json")


def _reconcile_process(url: str, workdir: Path) -> tuple[float, int, float, str]:
    settings = workdir / "settings.toml"
    settings.write_text(f'database_url = "{url}"\n', encoding="utf-8")
    env = {**os.environ, "HUZHU_CONFIG": str(settings), "HUZHU_CONFIG_DIR": str(REPO / "config")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, "reconcile", "--date", DAY.isoformat(), *ARGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"huzhu reconcile failed: {done.stderr[-2000:]}")
    figures = dict(
        line.split()[:2] for line in done.stderr.splitlines() if line[:3] in ("MAX", "CPU")
    )
    return seconds, int(figures["MAXRSS_KB"]) // 1024, float(figures["CPU_S"]), done.stdout


def _found(url: str) -> tuple[Counter[str], int]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            kinds = Counter(
                session.scalars(select(QueueItem.kind).where(QueueItem.first_seen == DAY)).all()
            )
            run = session.scalars(select(ReconRun).where(ReconRun.business_date == DAY)).one()
            return kinds, run.line_count
    finally:
        engine.dispose()


def _measure(section: Section, label: str, url: str, workdir: Path) -> None:
    started = time.perf_counter()
    _prepare(url)
    prepared = time.perf_counter() - started
    load_before = os.getloadavg()[0]
    seconds, memory_mb, cpu, stdout = _reconcile_process(url, workdir)
    load_after = os.getloadavg()[0]
    kinds, lines = _found(url)
    summary = json.loads(stdout)[0]
    section.add(
        f"{label}: huzhu reconcile, {lines:,} lines against {summary['entries']:,} entries",
        f"{seconds:.1f} s",
        f"< {TARGET_SECONDS:.0f} s",
        seconds < TARGET_SECONDS,
    )
    section.add(
        f"{label}: peak memory of the process",
        f"{memory_mb:,} MB",
        "< 2 GB",
        memory_mb < TARGET_MEMORY_MB,
    )
    exact = dict(kinds) == EXPECTED
    section.add(
        f"{label}: anomalies found as their kind, nothing else",
        ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())),
        ", ".join(f"{k} {v:,}" for k, v in sorted(EXPECTED.items())),
        exact,
    )
    section.notes.append(
        f"{label}: the reconcile process used {cpu:.1f} s of CPU (user + system) in its "
        f"{seconds:.1f} s; the machine's load average was {load_before:.1f} before and "
        f"{load_after:.1f} after (2 cores, shared)"
    )
    section.notes.append(
        f"{label}: the database was prepared in {prepared:.0f} s (not timed): migrations, "
        f"{ASSOCIATIONS} associations, the previous night, {ENTRIES + ANOMALIES:,} journal "
        f"transactions generated in the database, the statement file stored"
    )


def run() -> Section:
    section = Section(TITLE)
    with tempfile.TemporaryDirectory(prefix="huzhu-bench-") as tmp:
        workdir = Path(tmp)
        _measure(section, "SQLite", f"sqlite:///{workdir / 'bench.db'}", workdir)
        name = f"huzhu_bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            section.add("PostgreSQL: huzhu reconcile", "not run", "< 60 s", False)
            section.notes.append(f"PostgreSQL not reachable: {str(exc).splitlines()[0]}")
            admin.dispose()
            return section
        try:
            base = POSTGRES_ADMIN_URL.rpartition("/")[0]
            _measure(section, "PostgreSQL", f"{base}/{name}", workdir)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    section.notes.append(
        f"anomalies, {ANOMALIES:,} of each kind: lines nobody booked, cash deposits, lines "
        "printed twice, amounts differing from the books, entries the bank never showed; "
        f"run {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}"
    )
    return section
