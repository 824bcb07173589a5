"""``huzhu audit verify``: check the hash chain of the audit log."""

from __future__ import annotations

import typer

from gateway.cli._common import cli_session, console, current_settings, err_console

audit_app = typer.Typer(help="审计日志 Audit log.", no_args_is_help=True)


@audit_app.command("verify")
def verify_command() -> None:
    """Verify every audit event; exits 1 naming each edited, deleted or broken row."""
    from gateway.audit.service import verify

    with cli_session(current_settings()) as session:
        report = verify(session)
    if report.ok:
        console().print(
            f"审计日志完好 audit chain intact: {report.checked} events in {report.chains} chains"
        )
        return
    for problem in report.problems:
        err_console().print(f"[red]audit event {problem}[/red]")
    err_console().print(
        f"审计日志被改动 audit chain BROKEN: {len(report.problems)} problem(s) "
        f"in {report.checked} events"
    )
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
