"""The results and statements steps read the files already fetched (decrypted and verified
then) with each bank's file format only: a bank whose key cannot be read still has its
answers applied, and a bank whose configuration cannot be read at all holds back only its
own files, while the step fails naming it so that the office sees it and the next night
retries."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.records import CreditDebit, StatementEntry
from gateway.batches.banks import BankProfile
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.jobs.models import JobRun, RunStatus
from gateway.jobs.pipeline import Nightly, run_date
from gateway.jobs.runtime import build_nightly
from gateway.org import service as org
from gateway.payments.models import FollowUpItem, InstructionStatus
from gateway.reconcile.models import ReconRun
from gateway.settings import load_settings
from tests.settle_support import BANK, DAY1, REPO, Settle, settle_in, statement

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
KEY_ENV = "HUZHU_TEST_FIELD_KEY"
LOCKED_KEY = "/etc/huzhu/keys/xbank_sign.pem"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _without_signing_key(settle: Settle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The settings of a county whose bank's signing key cannot be read (it is not there)."""
    monkeypatch.delenv("HUZHU_CONFIG", raising=False)
    monkeypatch.setenv(KEY_ENV, base64.b64encode(bytes(range(32))).decode())
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    bank_file = (config_dir / "banks" / "rcb.toml").read_text(encoding="utf-8")
    bank_file = bank_file.replace('code = "rcb"', f'code = "{BANK}"')
    bank_file = bank_file.replace('"var/keys/sign_ed25519.pem"', f'"{tmp_path / "gone.pem"}"')
    (config_dir / "banks" / f"{BANK}.toml").write_text(bank_file, encoding="utf-8")
    path = tmp_path / "county.toml"
    path.write_text(
        f'field_key_env = "{KEY_ENV}"\nconfig_dir = "{config_dir}"\n'
        f'database_url = "{settle.engine.url.render_as_string(hide_password=False)}"\n',
        encoding="utf-8",
    )
    return path


def _other_banks_file(settle: Settle, kind: InboundKind) -> int:
    """A file of another bank, fetched (and stored plain) on an earlier night."""
    session = settle.fresh()
    name = "RESULT_X.txt" if kind is InboundKind.RESULT else "STMT_X.txt"
    file = InboundFile(
        bank_code="xbank",
        name=name,
        remote_path=f"out/{name}",
        kind=kind,
        sha256="0" * 64,
        size=3,
        content=b"H|x",
        status=InboundStatus.RECEIVED,
        business_date=DAY1,
    )
    session.add(file)
    session.commit()
    return file.id


def _with_xbank_unreadable(settle: Settle) -> Nightly:
    def load(code: str) -> BankProfile:
        if code == "xbank":
            raise PermissionError(f"[Errno 13] Permission denied: '{LOCKED_KEY}'")
        return settle.profile

    nightly = settle.make_nightly()
    nightly.profile_loader = load
    return nightly


def test_a_night_the_signing_key_cannot_be_read_still_books_the_answers_fetched_before(
    settle: Settle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1)
    run_date(settle.nightly, DAY2, ("fetch",))  # stored while the key could still be read
    nightly, _ = build_nightly(
        load_settings(config_file=_without_signing_key(settle, tmp_path, monkeypatch)),
        engine=settle.engine,
        payments=settle.payments,
        transport_factory=lambda profile: settle.server,
    )
    nightly.clock = lambda: DAY3

    outcomes = {o.step: o for o in run_date(nightly, DAY3)}

    assert outcomes["fetch"].status == "failed"  # fetching and sending need the key
    assert "gone.pem" in (outcomes["fetch"].error or "")
    assert outcomes["results"].status == "ran", outcomes["results"].error
    assert outcomes["results"].summary["applied"] == 1
    assert outcomes["statements"].status == "ran", outcomes["statements"].error
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED


def test_a_bank_whose_configuration_cannot_be_read_holds_back_only_its_own_answers(
    settle: Settle,
) -> None:
    settle.released_loan(400_000)
    run_date(settle.nightly, DAY1)
    stuck = _other_banks_file(settle, InboundKind.RESULT)
    settle.bank.answer(DAY1)  # our own bank answers the batch
    nightly = _with_xbank_unreadable(settle)

    fetch, results = run_date(nightly, DAY2, ("fetch", "results"))

    assert fetch.status == "ran"
    # tbank's answer is booked although xbank's configuration cannot be read ...
    (instruction,) = settle.instructions()
    assert instruction.status is InstructionStatus.SETTLED
    # ... and the step fails naming xbank, its file left for the night it can be read
    assert results.status == "failed"
    assert "bank xbank: configuration cannot be read" in (results.error or "")
    assert "银行 xbank 配置无法读取" in (results.error or "")
    assert LOCKED_KEY in (results.error or "")
    assert results.summary["applied"] == 1
    assert results.summary["waiting"] == {"xbank": 1}
    session = settle.fresh()
    held = session.get(InboundFile, stuck)
    assert held is not None
    assert held.status is InboundStatus.RECEIVED  # not quarantined for our fault
    run = session.scalar(
        select(JobRun).where(JobRun.step == "results", JobRun.business_date == DAY2)
    )
    assert run is not None
    assert run.status is RunStatus.FAILED  # tried again by the next run
    assert session.scalars(select(FollowUpItem)).all() == []

    # the configuration mended, the next run takes xbank's file (malformed: quarantined)
    run_date(settle.nightly, DAY3, ("results",))
    held = settle.fresh().get(InboundFile, stuck)
    assert held is not None
    assert held.status is InboundStatus.QUARANTINED


def test_a_bank_whose_configuration_cannot_be_read_holds_back_only_its_own_statements(
    settle: Settle,
) -> None:
    _other_banks_file(settle, InboundKind.STATEMENT)
    entry = StatementEntry(
        booking_date=DAY1,
        amount_fen=10_000,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id="T1",
        remittance="还款",
    )
    settle.bank.put_statement(statement(DAY1, [entry]), "STMT_20240701.txt")
    nightly = _with_xbank_unreadable(settle)

    fetch, statements = run_date(nightly, DAY2, ("fetch", "statements"))

    assert fetch.status == "ran"
    assert statements.status == "failed"
    assert "bank xbank" in (statements.error or "")
    assert statements.summary["applied"] == 1
    files = {f.bank_code: f.status for f in settle.fresh().scalars(select(InboundFile))}
    assert files == {"tbank": InboundStatus.APPLIED, "xbank": InboundStatus.RECEIVED}


def test_a_bank_whose_configuration_cannot_be_read_does_not_stop_the_others_reconciling(
    settle: Settle,
) -> None:
    session = settle.session
    xbank = org.get_or_create_bank(session, code="xbank", name="邻县农商行")
    theirs = org.create_special_account(
        session, settle.world.county, xbank, account_number="7300001", name="另一专户"
    )
    session.commit()
    entry = StatementEntry(
        booking_date=DAY1,
        amount_fen=10_000,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id="T1",
        remittance="还款",
    )
    settle.bank.put_statement(statement(DAY1, [entry]), "STMT_20240701.txt")
    nightly = _with_xbank_unreadable(settle)

    outcomes = {o.step: o for o in run_date(nightly, DAY2, ("fetch", "statements", "reconcile"))}

    reconciled = {
        (run.special_account_id, run.business_date)
        for run in settle.fresh().scalars(select(ReconRun))
    }
    # ours is reconciled against its statement; xbank's account waits (reconciled without its
    # statements, its day would show a gap the statement, read later, could no longer close),
    # and the step fails naming the bank, so that the next run takes it up
    assert reconciled == {(settle.world.a.special_account_id, DAY1)}
    reconcile = outcomes["reconcile"]
    assert reconcile.status == "failed"
    assert f"special account {theirs.id} on {DAY1}: bank xbank" in (reconcile.error or "")
    assert LOCKED_KEY in (reconcile.error or "")
