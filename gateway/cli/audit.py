"""``huzhu audit verify``: check the audit log's hash chains, and the journal and the daily
reconciliation statements against what the audit log recorded of them."""

from __future__ import annotations

import typer
from rich.markup import escape

from gateway.cli._common import cli_session, console, current_settings, err_console

audit_app = typer.Typer(help="审计日志 Audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command() -> None:
    """Verify every audit event, and every journal transaction and daily reconciliation
    statement against the audit event that recorded it; exits 1 naming each edited, deleted or
    broken row (table, id, field, stored and audited value)."""
    from gateway.audit.service import ChainProblem, verify

    with cli_session(current_settings()) as session:
        report = verify(session)
    for note in report.notes:
        console().print(f"[yellow]注意 note: {escape(str(note))}[/yellow]")
    checked = (
        f"{report.checked} events in {report.chains} chains, "
        f"{report.transactions} journal transactions, {report.statements} daily statements"
    )
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


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
