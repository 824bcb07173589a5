"""Kill the sending process (SIGKILL) at every step of the exactly-once protocol; after a
restart the sandbox bank, over real SFTP, has received each instruction exactly once and our
ledger agrees with the bank to the fen.

The crash points are the sender's documented test hook ``HUZHU_TEST_CRASH_AT``
(:mod:`gateway.batches.hooks`); each run is a separate ``huzhu nightly`` process.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.sandbox.clock import BANK_TZ
from gateway.batches.banks import sftp_transport
from gateway.batches.hooks import CRASH_ENV, CRASH_POINTS
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.demo.exchange import open_accounts, start_sandbox, write_toml
from gateway.jobs.pipeline import Nightly, profile_loader, run_date
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.org.models import SpecialAccount
from gateway.payments.config import PaymentsConfig
from gateway.payments.models import InstructionStatus
from tests.settle_support import CIPHER, DAY1, REPO, Settle, bank_raw, migrated_sqlite

HUZHU = str(Path(sys.executable).parent / "huzhu")
KEY_ENV = "HUZHU_TEST_FIELD_KEY"


def _nightly(env: dict[str, str], crash: str | None) -> subprocess.CompletedProcess[str]:
    run_env = {k: v for k, v in env.items() if k != CRASH_ENV}
    if crash is not None:
        run_env[CRASH_ENV] = crash
    return subprocess.run(
        [
            HUZHU,
            "nightly",
            "--date",
            DAY1.isoformat(),
            "--steps",
            "batches",
            "--no-catch-up",
            "--json",
            # the sandbox bank's day: the bank is asked to pay on it, not on the real today
            "--today",
            DAY1.isoformat(),
        ],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_killed_sender_resumes_and_the_bank_books_each_instruction_once(
    tmp_path: Path, point: str
) -> None:
    url = migrated_sqlite(tmp_path)
    settle = Settle(url)
    try:
        loans = [settle.released_loan(amount) for amount in (300_000, 450_000, 125_000)]
        bank_dir = tmp_path / "bankcfg"
        shutil.copytree(REPO / "config" / "banks" / "layouts", bank_dir / "layouts")
        bank_file = bank_dir / "tbank.toml"
        write_toml(bank_file, bank_raw(limits={"max_lines_per_file": 2}))
        exchange = start_sandbox(
            tmp_path / "sandbox",
            bank_file=bank_file,
            special_account="6200001",
            special_account_name="测试县互助资金专户",
            start=datetime(2024, 7, 1, 9, 0, tzinfo=BANK_TZ),
        )
        try:
            special = settle.fresh().scalars(select(SpecialAccount)).one()
            open_accounts(exchange, settle.session, CIPHER, special, on=DAY1)
            settings_file = tmp_path / "settings.toml"
            settings_file.write_text(
                f'database_url = "{url}"\nfield_key_env = "{KEY_ENV}"\n', encoding="utf-8"
            )
            env = {
                **os.environ,
                "HUZHU_CONFIG": str(settings_file),
                "HUZHU_CONFIG_DIR": str(exchange.config_dir),
                KEY_ENV: base64.b64encode(bytes(range(32))).decode(),
            }
            crashed = _nightly(env, point)
            assert crashed.returncode == -9, crashed.stderr
            resumed = _nightly(env, None)
            assert resumed.returncode == 0, resumed.stderr + resumed.stdout

            # two files (the bank allows two lines per file), both complete and marked sent
            batches = settle.fresh().scalars(select(PaymentBatch).order_by(PaymentBatch.id)).all()
            assert [(b.file_name, b.status) for b in batches] == [
                ("DF_tbank_20240701_001.txt", BatchStatus.SENT),
                ("DF_tbank_20240701_002.txt", BatchStatus.SENT),
            ]
            report = exchange.engine.run_cutoff(DAY1)
            assert report.refused_files == ()
            assert report.duplicate_files == ()
            exchange.engine.end_of_day(DAY1)
            received = exchange.engine.received_files()
            assert sorted(f.name for f in received) == [b.file_name for b in batches]
            booked = Counter(p.end_to_end_id for p in exchange.engine.postings() if p.end_to_end_id)
            assert sorted(booked.values()) == [1, 1, 1]

            payments = PaymentsConfig()
            nightly = Nightly(
                factory=settle.factory,
                payments=payments,
                cipher=CIPHER,
                profile_loader=profile_loader(exchange.config_dir, payments),
                transport_factory=sftp_transport,
            )
            exchange.clock.set(datetime(2024, 7, 2, 9, 0, tzinfo=BANK_TZ))
            outcomes = run_date(
                nightly, DAY1 + timedelta(days=1), ("fetch", "results", "statements")
            )
            assert [o.status for o in outcomes] == ["ran", "ran", "ran"]
            session = settle.fresh()
            assert {i.status for i in settle.instructions()} == {InstructionStatus.SETTLED}
            for association in (settle.world.a, settle.world.b):
                ours = balance(session, association.id, AccountCode.BANK_SUB_ACCOUNT)
                assert ours == exchange.engine.balance_fen(association.sub_account_number)
            assert balance(session, settle.world.a.id, AccountCode.LOANS_RECEIVABLE) == sum(
                loan.amount_fen for loan in loans
            )
        finally:
            exchange.stop()
    finally:
        settle.close()
