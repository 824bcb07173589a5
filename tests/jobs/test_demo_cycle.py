"""``huzhu demo``'s nightly cycle, shortened: a small county, three business days against the
sandbox bank over SFTP, with the bank refusing connections on the first morning."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from rich.console import Console

from gateway.db import make_engine, make_session_factory, session_scope
from gateway.demo.config import load_demo_config
from gateway.demo.cycle import run_cycle, summary_tables
from gateway.demo.seed import seed_county
from gateway.settings import PolicyDefaults
from tests.settle_support import CIPHER, REPO, migrated_sqlite


def test_three_days_against_the_sandbox_bank(tmp_path: Path) -> None:
    base = load_demo_config(REPO / "config" / "demo.toml")
    config = base.model_copy(
        update={
            "towns": base.towns[:1],
            "members_min": 12,
            "members_max": 14,
            "loans_per_association": 2,
        }
    )
    engine = make_engine(migrated_sqlite(tmp_path))
    try:
        factory = make_session_factory(engine)
        with session_scope(factory) as session:
            seeded = seed_county(session, CIPHER, config, PolicyDefaults())
        lines: list[str] = []
        summary = run_cycle(
            factory,
            CIPHER,
            config,
            seeded,
            state_dir=tmp_path / "demo",
            days=3,
            report=lines.append,
        )
    finally:
        engine.dispose()
    assert summary.first_day == date(2024, 7, 1)
    assert summary.business_days == 3
    assert summary.batches >= 1
    assert summary.instructions[("disbursement", "settled")] >= 1
    assert summary.inbound_files["result:applied"] == summary.batches
    assert summary.inbound_files["statement:applied"] >= 2
    assert summary.quarantined == []
    # config/sandbox.toml has the bank refuse SFTP on 1 July 09:00-11:30: the morning's
    # fetch and batches failed, were recorded, and ran again at noon
    retried = [line for line in summary.failed_step_runs if line.startswith("2024-07-01")]
    assert any("fetch" in line for line in retried)
    assert summary.bank_faults["sftp_refused"] >= 1
    tables = summary_tables(summary)
    assert len(tables) == 4
    assert "Mismatch queue" in str(tables[3].title)
    # the bank opened the sub-accounts empty and funded them on 1 July with what the books
    # held: the reconciler takes that up as the books' opening, so where books and bank agree
    # no balance break and no unmatched bank line is raised
    agreeing = [c for c, (ours, theirs) in summary.ledger_vs_bank_fen.items() if ours == theirs]
    assert agreeing, summary.ledger_vs_bank_fen
    assert summary.queue_open["balance_break"] == 0, summary.queue_associations
    # nor one raised on a night and closed by the next, statement-less one
    assert summary.queue_closed["balance_break"] == 0, summary.queue_closed
    raised = set().union(*summary.queue_associations.values()) if summary.queue_open else set()
    assert raised.isdisjoint(agreeing), summary.queue_associations
    # the bank sent no statement for 3 July (config/sandbox.toml): that gap is what is left
    assert summary.queue_open["statement_gap"] == 1
    assert "sandbox bank on sftp://127.0.0.1:" in lines[0]
    # on the middle day a borrower paid their next instalment exactly, by their own transfer:
    # the next night's reconciliation booked it without a person
    (paid,) = [line for line in lines if "a borrower repays by own transfer" in line]
    assert paid.startswith("2024-07-02")
    assert summary.auto_postings == {"repayment": 1}
    printed = Console(width=200, record=True, file=io.StringIO())
    printed.print(tables[0])
    assert "booked by the reconciler: repayment │" in printed.export_text()
