"""``huzhu nightly`` runs the pipeline for a business date; ``huzhu scheduler`` runs it on
cron triggers (``config/payments.toml``). Both print JSON logs with ``--json-logs``, the
way unattended runs are kept."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from textwrap import shorten
from types import FrameType
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from gateway.cli._common import console, current_settings, err_console, parse_date, require_database
from gateway.db import session_scope
from gateway.errors import ValidationFailed
from gateway.jobs import attention
from gateway.jobs.pipeline import (
    EXTRA_STEPS,
    STEPS,
    StepOutcome,
    outcome_dict,
    run_date,
    run_through,
    today_in,
)
from gateway.jobs.runtime import build_nightly, configure_logging
from gateway.jobs.scheduler import BusinessClock, run_scheduler

STYLE = {
    "ran": "green",
    "skipped": "dim",
    "failed": "red",
    "running_elsewhere": "yellow",
    "taken_over": "yellow",
}
# A step another run holds (or took over from this one) is not known to be done: the exit
# code says so, apart from a failure (1); 75 is sysexits' EX_TEMPFAIL, "try again later".
NOT_KNOWN_DONE = 75
# Every step ran (or was done already), but bank files were quarantined: nothing of them was
# applied, and a person must look (a cron job that watches the exit code sees it).
QUARANTINED = 3
# New queue items listed one by one at the end of a run; beyond, counted by kind.
LISTED_ITEMS = 20
ELSEWHERE = ("running_elsewhere", "taken_over")


def _style(outcome: StepOutcome) -> str:
    """A step's colour: a step that ran but quarantined files is yellow, not green."""
    if outcome.status == "ran" and outcome.summary.get("quarantined"):
        return "yellow"
    return STYLE.get(outcome.status, "bold")


def _local(moment: str, zone: str) -> str:
    """An ISO time of a summary in the scheduler's time zone, to the second."""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    return parsed.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


def _outcome_text(outcome: StepOutcome, zone: str) -> str:
    """The summary column: who holds a step running elsewhere and since when, who took one
    over, else the step's own summary."""
    summary = dict(outcome.summary)
    if outcome.status == "running_elsewhere":
        text = (
            f"另一运行进行中 running elsewhere: {summary.pop('held_by', '?')}, "
            f"始于 since {_local(summary.pop('since', '?'), zone)}"
        )
        if "last_alive" in summary:
            text += f", 最近心跳 last alive {_local(summary.pop('last_alive'), zone)}"
        return text
    if outcome.status == "taken_over":
        text = (
            f"已被接管 taken over by {summary.pop('taken_over_by', '?')} "
            f"({summary.pop('its_status', '?')})"
        )
        rest = _summary_text(summary)
        return f"{text}; {rest}" if rest else text
    return _summary_text(summary)


def _summary_text(summary: dict[str, Any]) -> str:
    """A step's summary on one line; the reconcile step's accounts as date, lines matched and
    exceptions each, not as the JSON ``--json`` prints."""
    parts = []
    for key, value in summary.items():
        if key == "accounts" and isinstance(value, list):
            parts += [
                f"{a['business_date']} 专户 #{a['special_account_id']}: "
                f"匹配 matched {a['matched_lines']}/{a['lines']}, "
                f"差错 exceptions {sum(a['exceptions'].values())}"
                for a in value
            ]
        elif key != "ran":
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def nightly(
    on: Annotated[
        str | None, typer.Option("--date", help="Business date YYYY-MM-DD (default: today).")
    ] = None,
    steps: Annotated[
        str | None,
        typer.Option(help=f"Comma-separated steps (default all: {','.join(STEPS)})."),
    ] = None,
    catch_up: Annotated[
        bool, typer.Option(help="First run missed earlier dates, oldest first.")
    ] = True,
    json_logs: Annotated[
        bool, typer.Option("--json-logs", help="JSON log lines on stderr.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    today: Annotated[
        str | None,
        typer.Option(
            "--today",
            help="Rehearsal: the business clock's today YYYY-MM-DD, the day the bank is asked "
            "to pay on for a date run later (default: the real today).",
        ),
    ] = None,
) -> None:
    """Run the nightly pipeline once for a business date (each step at most once per date).

    Ends with what needs a person: the bank files quarantined, the follow-ups and the
    mismatch-queue items the run raised. Exits 0 when every step ran or was done already, 1
    when a step failed, 75 when a step is being run by another process (or was taken over from
    this one): the date's work is then not known to be done, look again later; 3 when every
    step ran but bank files were quarantined (nothing of them applied: see the list)."""
    configure_logging(json_logs)
    settings = current_settings()
    chosen = tuple(s.strip() for s in steps.split(",")) if steps else STEPS
    unknown = [s for s in chosen if s not in STEPS + EXTRA_STEPS]
    if unknown:
        raise typer.BadParameter(f"unknown step(s) {', '.join(unknown)}; steps: {', '.join(STEPS)}")
    given = parse_date(on) if on else None
    require_database(settings)
    pipeline, engine = build_nightly(settings)
    if today is not None:
        rehearsed = parse_date(today)
        pipeline.clock = lambda: rehearsed
    day = given or today_in(pipeline.payments.scheduler.timezone)
    if day > (business_today := pipeline.today()):
        engine.dispose()
        # a typo (2042 for 2024) would send batches for a day to come and reconcile every
        # day up to it, closing the days between for good
        raise ValidationFailed(
            f"夜间批处理日期 {day} 晚于今天 {business_today}：未运行任何步骤"
            "（演练请用 --today 指定业务时钟的今天）",
            f"the nightly date {day} is after today, {business_today}: no step was run "
            "(for a rehearsal, give the business clock's today with --today)",
            code="date_in_future",
        )
    outcomes: list[StepOutcome] = []
    with session_scope(pipeline.factory) as session:
        before = attention.mark(session)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=err_console(),
            disable=json_out or json_logs,
            transient=True,
        ) as progress:
            task = progress.add_task(f"夜间批处理 nightly {day}", total=None)

            def step_done(outcome: StepOutcome) -> None:
                outcomes.append(outcome)
                progress.update(task, description=f"{outcome.business_date} {outcome.step}")

            if catch_up:
                run_through(
                    pipeline,
                    day,
                    catch_up_days=pipeline.payments.scheduler.catch_up_days,
                    steps=chosen,
                    on_step=step_done,
                )
            else:
                run_date(pipeline, day, chosen, on_step=step_done)
        with session_scope(pipeline.factory) as session:
            left = attention.since(session, before)
    finally:
        engine.dispose()
    if json_out:
        typer.echo(json.dumps([outcome_dict(o) for o in outcomes], ensure_ascii=False, indent=2))
    else:
        table = Table(title=f"夜间批处理 nightly run through {day}")
        for header in ("日期 Date", "步骤 Step", "分区 Partition", "结果 Outcome"):
            table.add_column(header)
        # an error is printed whole (a long path folds onto the next line); a summary is cut
        table.add_column("摘要 Summary", overflow="fold")
        zone = pipeline.payments.scheduler.timezone
        for o in outcomes:
            summary = _outcome_text(o, zone)
            if o.error:
                summary = f"{summary}; {o.error}" if o.status == "taken_over" else o.error
                shown = Text(summary)  # an error is printed whole
            else:
                shown = Text(shorten(summary, 160, placeholder=" …"))
            table.add_row(
                o.business_date.isoformat(),
                o.step,
                o.partition,
                f"[{_style(o)}]{o.status}[/]",
                shown,
            )
        console().print(table)
    if not json_out:
        _print_attention(left)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)
    elsewhere = [o for o in outcomes if o.status in ELSEWHERE]
    if elsewhere:
        dates = ", ".join(sorted({o.business_date.isoformat() for o in elsewhere}))
        err_console().print(
            f"[yellow]{len(elsewhere)} 个步骤由另一运行处理，{dates} 的工作尚未确认完成 "
            f"{len(elsewhere)} step(s) in the hands of another run: the work for {dates} is not "
            f"known to be done; run again later to see it finished[/yellow]"
        )
        raise typer.Exit(NOT_KNOWN_DONE)
    if left.quarantined:
        raise typer.Exit(QUARANTINED)


def _print_attention(left: attention.Attention) -> None:
    """The run's closing summary on standard output: what needs a person, or that nothing
    does."""
    from gateway.web.i18n import KIND_LABELS  # labels only, when there is something to say

    out = console()
    if left.empty:
        out.print("无待人工处理事项 nothing new needs a person")
        return
    out.print("[bold]待人工处理 Needs a person[/bold]")
    if left.quarantined:
        out.print(
            f"[red]已隔离银行文件 {len(left.quarantined)} 个，未做任何处理 "
            f"{len(left.quarantined)} bank file(s) quarantined, nothing of them applied[/red] "
            "(huzhu files show ID; huzhu follow-ups list):"
        )
        for q in left.quarantined:
            out.print(
                Text(
                    f"  文件 file {q.file_id} {q.name} (银行 bank {q.bank_code}, 待办 follow-up "
                    f"{q.follow_up_id}): {q.reason}"
                )
            )
    if left.follow_ups:
        out.print(
            f"银行待办 {len(left.follow_ups)} 项 {len(left.follow_ups)} new bank follow-up(s) "
            "(huzhu follow-ups list):"
        )
        for f in left.follow_ups:
            out.print(
                Text(
                    f"  待办 follow-up {f.follow_up_id} {f.business_date} {f.kind.label_zh} "
                    f"{f.kind.label_en}: {shorten(f.message_zh, 120, placeholder=' …')}"
                )
            )
    if left.queue_items:
        kinds = ", ".join(
            f"{KIND_LABELS.get(kind, (kind, kind))[0]} {kind} {count}"
            for kind, count in sorted(left.queue_by_kind.items())
        )
        out.print(
            f"差错队列新增 {len(left.queue_items)} 项 {len(left.queue_items)} new mismatch "
            f"queue item(s): {kinds} (huzhu queue list):"
        )
        for item in left.queue_items[:LISTED_ITEMS]:
            zh = KIND_LABELS.get(item.kind, (item.kind, item.kind))[0]
            where = f" {item.sub_account}" if item.sub_account else ""
            out.print(
                Text(
                    f"  #{item.item_id} {item.business_date} {zh} {item.kind}{where}: "
                    f"{shorten(item.explanation, 120, placeholder=' …')}"
                )
            )
        more = len(left.queue_items) - LISTED_ITEMS
        if more > 0:
            out.print(f"  … 另有 {more} 项 and {more} more")


def scheduler(
    run_for_seconds: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds (default: run until stopped)."),
    ] = None,
    simulate_from: Annotated[
        str | None,
        typer.Option(help="Rehearsal: business dates start here instead of today."),
    ] = None,
    seconds_per_day: Annotated[
        float, typer.Option(help="Rehearsal: wall-clock seconds per simulated business day.")
    ] = 60.0,
    json_logs: Annotated[bool, typer.Option("--json-logs/--plain-logs")] = True,
) -> None:
    """Run the pipeline on the cron triggers of config/payments.toml until stopped."""
    configure_logging(json_logs)
    settings = current_settings()
    start = parse_date(simulate_from) if simulate_from else None
    require_database(settings)
    pipeline, engine = build_nightly(settings)
    config = pipeline.payments.scheduler
    clock = BusinessClock(
        timezone=config.timezone,
        simulate_from=start,
        seconds_per_day=seconds_per_day,
        started=datetime.now().astimezone(),
    )
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        run_scheduler(pipeline, config, clock, stop=stop, run_for_seconds=run_for_seconds)
    finally:
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.command("nightly")(nightly)
    app.command("scheduler")(scheduler)
