"""Two ``huzhu scheduler`` processes on one PostgreSQL database, on a simulated calendar of
several business days: every step ran exactly once per date and partition, and the bank
received each batch file once."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.sandbox.clock import BANK_TZ
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.demo.exchange import open_accounts, start_sandbox, write_toml
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import STEPS
from gateway.migrations import upgrade
from gateway.org.models import SpecialAccount
from tests.settle_support import CIPHER, DAY1, REPO, Settle, bank_raw

HUZHU = str(Path(sys.executable).parent / "huzhu")
KEY_ENV = "HUZHU_TEST_FIELD_KEY"
RUN_SECONDS = 14


@pytest.mark.postgres
@pytest.mark.slow
def test_two_schedulers_run_each_step_once_per_date(postgres_database: str, tmp_path: Path) -> None:
    upgrade(postgres_database)
    settle = Settle(postgres_database)
    try:
        for amount in (300_000, 200_000):
            settle.released_loan(amount)
        bank_dir = tmp_path / "bankcfg"
        shutil.copytree(REPO / "config" / "banks" / "layouts", bank_dir / "layouts")
        write_toml(bank_dir / "tbank.toml", bank_raw())
        exchange = start_sandbox(
            tmp_path / "sandbox",
            bank_file=bank_dir / "tbank.toml",
            special_account="6200001",
            special_account_name="测试县互助资金专户",
            start=datetime(2024, 7, 1, 9, 0, tzinfo=BANK_TZ),
        )
        try:
            special = settle.fresh().scalars(select(SpecialAccount)).one()
            open_accounts(exchange, settle.session, CIPHER, special, on=DAY1)
            (exchange.config_dir / "payments.toml").write_text(
                "[scheduler]\n"
                'nightly = "* * * * * *"\n'  # every second
                'batches = "*/2 * * * * *"\n'
                "catch_up_days = 30\n",
                encoding="utf-8",
            )
            settings_file = tmp_path / "settings.toml"
            settings_file.write_text(
                f'database_url = "{postgres_database}"\nfield_key_env = "{KEY_ENV}"\n',
                encoding="utf-8",
            )
            env = {
                **os.environ,
                "HUZHU_CONFIG": str(settings_file),
                "HUZHU_CONFIG_DIR": str(exchange.config_dir),
                KEY_ENV: base64.b64encode(bytes(range(32))).decode(),
            }
            command = [
                HUZHU,
                "scheduler",
                "--run-for-seconds",
                str(RUN_SECONDS),
                "--simulate-from",
                DAY1.isoformat(),
                "--seconds-per-day",
                "3",
            ]
            processes = [
                subprocess.Popen(
                    command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )
                for _ in range(2)
            ]
            outputs = []
            for process in processes:
                try:
                    outputs.append(process.communicate(timeout=RUN_SECONDS + 60))
                except subprocess.TimeoutExpired:
                    process.kill()
                    outputs.append(process.communicate())
            for process, (_, err) in zip(processes, outputs, strict=True):
                assert process.returncode == 0, err[-2000:]

            session = settle.fresh()
            runs = session.scalars(select(JobRun)).all()
            keys = Counter((r.step, r.business_date, r.partition) for r in runs)
            assert set(keys.values()) == {1}
            assert {r.status for r in runs} == {RunStatus.SUCCEEDED}
            assert {r.attempts for r in runs} == {1}  # nobody ran a step a second time
            dates = sorted({r.business_date for r in runs})
            assert len(dates) >= 3
            for day in dates[:3]:
                done = {r.step for r in runs if r.business_date == day}
                assert done >= set(STEPS), (day, done)
            # the JSON logs show both processes at work on the same database
            assert all('"message": "scheduler started"' in err for _, err in outputs)
            (batch,) = session.scalars(select(PaymentBatch)).all()
            assert batch.status is BatchStatus.SENT
            inbox = exchange.engine.institution_root(exchange.institution) / "in"
            assert sorted(p.name for p in inbox.iterdir()) == [
                batch.file_name,
                f"{batch.file_name}.done",
                f"{batch.file_name}.sig",
            ]
        finally:
            exchange.stop()
    finally:
        settle.close()
