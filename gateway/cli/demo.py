"""``huzhu demo``: build the demo county from ``config/demo.toml`` and show its ledgers.

Every run starts fresh: the demo's SQLite database (``var/demo.db`` by default) is deleted
and recreated. On another database the command refuses to seed a county that already exists.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from datetime import date
from pathlib import Path
from textwrap import shorten
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from adapters.money import format_yuan
from gateway.cli._common import (
    cli_session,
    console,
    err_console,
    field_cipher,
    warn_unknown_environment,
)
from gateway.demo.config import DemoConfig, load_demo_config
from gateway.demo.seed import SeededCounty, seed_county
from gateway.jobs.pipeline import StepOutcome
from gateway.ledger.models import AccountCode
from gateway.ledger.service import TrialBalance, trial_balance
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings, load_settings, mask_url

LEGEND = (
    "bank sub-account · loans receivable · member deposits · "
    "fiscal capital and donations · usage-fee income · trial balance"
)
CAPITAL = (
    AccountCode.FISCAL_CENTRAL,
    AccountCode.FISCAL_PROVINCIAL,
    AccountCode.FISCAL_MUNICIPAL,
    AccountCode.FISCAL_COUNTY,
    AccountCode.DONATIONS,
)


def _start_fresh(settings: Settings, demo_county: str) -> None:
    """Delete the demo's SQLite database so that the demo starts afresh, but never a database
    holding any county other than the demo's: ``HUZHU_DATABASE_URL`` overrides the demo's own
    settings, and may name a county's real database."""
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    others = _other_counties(Path(url.database), demo_county)
    if others:
        err_console().print(
            f"[red]数据库 {url.database} 中有县 {'、'.join(others)}，不是演示县 {demo_county}："
            "演示不会删除它[/red] (the database holds county "
            f"{', '.join(others)}, not the demo's {demo_county}: the demo starts afresh only in "
            "a database of its own; unset HUZHU_DATABASE_URL or name another file)"
        )
        raise typer.Exit(1)
    for suffix in ("", "-wal", "-shm"):
        Path(url.database + suffix).unlink(missing_ok=True)


def _other_counties(path: Path, demo_county: str) -> list[str]:
    """The codes of the counties in the SQLite file at ``path`` other than the demo's (none
    for a file that is not there or holds no counties table)."""
    if not path.is_file():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            codes = [str(code) for (code,) in db.execute("SELECT code FROM counties")]
        except sqlite3.DatabaseError:
            return []  # not a database of ours, or no county yet
    return sorted(code for code in codes if code != demo_county)


def _summary_table(seeded: SeededCounty) -> Table:
    table = Table(title=f"{seeded.county.name} 各协会账户余额（元）", caption=LEGEND)
    table.add_column("协会")
    for header in ("会员", "银行存款", "应收借款", "互助金", "资本金", "占用费", "平衡"):
        table.add_column(header, justify="right")
    return table


def _trial_balance_table(title: str, tb: TrialBalance) -> Table:
    table = Table(title=title)
    table.add_column("科目 Account")
    for header in ("借方 Debit", "贷方 Credit", "余额 Balance"):
        table.add_column(header, justify="right")
    for row in tb.rows:
        if row.debit_fen or row.credit_fen:
            table.add_row(
                f"{row.code.value} {row.name_zh}",
                format_yuan(row.debit_fen),
                format_yuan(row.credit_fen),
                format_yuan(row.balance_fen),
            )
    table.add_row(
        "合计 Total", format_yuan(tb.total_debit_fen), format_yuan(tb.total_credit_fen), ""
    )
    return table


def demo(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Demo configuration (default: config/demo.toml)."),
    ] = None,
    detail: Annotated[
        bool, typer.Option("--detail", help="Also print every trial balance.")
    ] = False,
    days: Annotated[
        int,
        typer.Option(
            "--days", min=0, help="Business days of the nightly cycle with the sandbox bank."
        ),
    ] = 30,
) -> None:
    """Seed the demo county (fresh each run), then run its nightly cycle against the sandbox
    bank over SFTP for ``--days`` business days and print what happened."""
    from gateway.migrations import upgrade

    base = load_settings()
    demo_file = config or base.config_dir / "demo.toml"
    settings = load_settings(config_file=demo_file)
    warn_unknown_environment(settings)
    demo_config = load_demo_config(demo_file)
    _start_fresh(settings, demo_config.county_code)
    upgrade(settings.database_url)
    with cli_session(settings) as session:
        # a fresh database: its key file is created when missing
        cipher = field_cipher(settings, session)
        seeded = seed_county(session, cipher, demo_config, settings.policy)
        table = _summary_table(seeded)
        all_balanced = True
        for entry in seeded.associations:
            tb = trial_balance(session, entry.association.id)
            all_balanced = all_balanced and tb.balanced
            table.add_row(
                entry.association.code,
                str(len(entry.members)),
                format_yuan(tb.balance(AccountCode.BANK_SUB_ACCOUNT)),
                format_yuan(tb.balance(AccountCode.LOANS_RECEIVABLE)),
                format_yuan(tb.balance(AccountCode.MEMBER_DEPOSITS)),
                format_yuan(sum(tb.balance(code) for code in CAPITAL)),
                format_yuan(tb.balance(AccountCode.FEE_INCOME)),
                "✓" if tb.balanced else "✗",
            )
            if detail:
                console().print(
                    _trial_balance_table(
                        f"{entry.association.code} {entry.association.name} 试算平衡表", tb
                    )
                )
        console().print(table)
        members = sum(len(e.members) for e in seeded.associations)
        loans = sum(len(e.loans) for e in seeded.associations)
        console().print(
            f"{len(seeded.associations)} 个协会 associations, {members} 名会员 members, "
            f"{loans} 笔借款 loans — database {mask_url(settings.database_url)}"
        )
        for contract, refusal in seeded.refusals:
            console().print(f"规则拒绝 refused {contract}: {refusal.message_zh} ({refusal.code})")
        if not all_balanced:
            err_console().print("[red]试算不平衡 trial balance broken[/red]")
            raise typer.Exit(1)
    if days > 0:
        run_demo_cycle(settings, cipher, demo_config, seeded, days=days)


def run_demo_cycle(
    settings: Settings,
    cipher: FieldCipher,
    demo_config: DemoConfig,
    seeded: SeededCounty,
    *,
    days: int,
) -> None:
    """The nightly cycle against the sandbox bank, with a progress bar and the summary."""
    from gateway.db import make_engine, make_session_factory
    from gateway.demo.cycle import run_cycle, summary_tables
    from gateway.jobs.runtime import configure_logging

    configure_logging(json_logs=False, level=logging.CRITICAL)  # progress shows what failed
    engine = make_engine(settings.database_url)
    state_dir = Path(make_url(settings.database_url).database or "var/demo.db").parent / "demo"
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console(),
            transient=True,
        ) as progress:
            task = progress.add_task("营业日 business days", total=days)

            def day_done(day: date, outcomes: list[StepOutcome]) -> None:
                failed = [o for o in outcomes if o.status == "failed"]
                for o in failed:
                    progress.console.print(
                        f"[yellow]{o.business_date} {o.step}/{o.partition} failed, "
                        f"retried later[/yellow]: {shorten(o.error or '', 100, placeholder=' …')}"
                    )
                progress.update(task, advance=1, description=f"营业日 business day {day}")

            summary = run_cycle(
                make_session_factory(engine),
                cipher,
                demo_config,
                seeded,
                state_dir=state_dir,
                days=days,
                report=console().print,
                on_day=day_done,
            )
    finally:
        engine.dispose()
    for table in summary_tables(summary):
        console().print(table)
    console().print(
        f"数据库保留供控制台使用 database kept for the console: {mask_url(settings.database_url)}"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
