"""``huzhu audit``: check the audit log's hash chains, and the journal and the daily
reconciliation statements against what the audit log recorded of them; print the chains' heads
for the operator to keep outside the database, and compare the log with a kept copy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from gateway.cli._common import cli_session, console, current_settings, err_console

audit_app = typer.Typer(help="审计日志 Audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command(
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="Chain heads printed earlier by `huzhu audit heads` and kept elsewhere: "
            "report a chain now shorter than, or different from, them.",
        ),
    ] = None,
) -> None:
    """Verify every audit event, and every journal transaction and daily reconciliation
    statement against the audit event that recorded it; exits 1 naming each edited, deleted or
    broken row (table, id, field, stored and audited value)."""
    from gateway.audit.service import ChainProblem, read_kept_heads, verify
    from gateway.errors import ValidationFailed

    with cli_session(current_settings()) as session:
        kept = []
        if against is not None:
            try:
                text = against.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ValidationFailed(
                    f"无法读取链头文件 {against}",
                    f"cannot read the chain heads in {against}: {exc}",
                ) from exc
            kept = read_kept_heads(text)
        report = verify(session, kept=kept)
    for note in report.notes:
        console().print(f"[yellow]注意 note: {escape(str(note))}[/yellow]")
    checked = (
        f"{report.checked} events in {report.chains} chains, "
        f"{report.transactions} journal transactions, {report.statements} daily statements"
    )
    if against is not None:
        checked += f", {report.kept} kept chain heads"
    if report.ok:
        console().print(
            f"审计日志完好，账簿和每日对账报告与审计记录一致 audit chain intact: {checked}"
        )
        return
    for problem in report.listed:
        prefix = "audit event " if isinstance(problem, ChainProblem) else ""
        err_console().print(f"[red]{prefix}{escape(str(problem))}[/red]")
    if report.unlisted:
        err_console().print(
            f"[red]另有 {report.unlisted} 个问题未列出 and {report.unlisted} more "
            "problem(s) not listed[/red]"
        )
    err_console().print(
        f"审计校验未通过 audit chain BROKEN: "
        f"{len(report.listed) + report.unlisted} problem(s) in {checked}"
    )
    raise typer.Exit(1)


@audit_app.command("heads")
def heads_command() -> None:
    """Print each chain's head (chain, seq, hash) as JSON, to keep outside the database (say,
    after each night): `huzhu audit verify --against FILE` later reports a chain that has
    lost its newest events or was rewritten since."""
    from gateway.audit.service import chain_heads, heads_document
    from gateway.db import utcnow

    with cli_session(current_settings()) as session:
        heads = chain_heads(session)
    # plain text on standard output, for a file: no colours, no wrapping
    typer.echo(json.dumps(heads_document(heads, utcnow()), ensure_ascii=False, indent=2))


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
