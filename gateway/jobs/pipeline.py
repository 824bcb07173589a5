"""The nightly pipeline: idempotent steps for one business date.

Steps, in order: ``fetch`` inbound files (per bank), ``results`` and ``statements``
ingested (one transaction per file), ``reconcile``, ``collections`` created when due, and
``batches`` built and sent (per bank, on its banking days). Each step's run is guarded by a
row per (step, business date, partition) — see :mod:`gateway.jobs.guard` — so a re-run of a
date changes nothing and several scheduler processes share the work without doing it twice.
:func:`run_through` catches up missed dates in order before the date asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from adapters.errors import AdapterError, FileFormatError
from gateway.batches.banks import (
    BankFormat,
    BankProfile,
    TransportFactory,
    load_profile,
    sftp_transport,
)
from gateway.batches.builder import build_batches
from gateway.batches.calendar import BankingCalendar
from gateway.batches.hooks import crash_point
from gateway.batches.sender import send_stored_batches
from gateway.db import as_utc, session_scope
from gateway.errors import HuzhuError
from gateway.ingestion import refusals
from gateway.ingestion import service as ingestion
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.jobs import guard
from gateway.jobs.models import JobRun, RunStatus
from gateway.org.models import Bank, SpecialAccount
from gateway.payments.config import PaymentsConfig
from gateway.payments.service import create_due_collections
from gateway.processes import KeepAlive, this_process
from gateway.security.fieldcrypt import FieldCipher

log = logging.getLogger(__name__)

STEPS = ("fetch", "results", "statements", "reconcile", "collections", "batches")
# The scheduler's second round of batches before the cut-offs, guarded on its own.
EXTRA_STEPS = ("batches_late",)
ALL = "all"
# A step's outcomes that leave the date's work not known to be done.
NOT_DONE = ("failed", "running_elsewhere", "taken_over")


@dataclass
class StepOutcome:
    step: str
    business_date: date
    partition: str
    # ran | skipped (done already) | failed | running_elsewhere (another run holds the step:
    # ``summary`` names it, since when and when it was last alive) | taken_over (this run
    # stalled past its lease and another took the step over, whose outcome stands)
    status: str
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Nightly:
    """Everything the steps need; built once per process."""

    factory: sessionmaker[Session]
    payments: PaymentsConfig
    cipher: FieldCipher
    profile_loader: Callable[[str], BankProfile]
    transport_factory: TransportFactory = sftp_transport
    owner: str = field(default_factory=this_process)
    # A step's run is taken over once it has shown no sign of life for this long; while it
    # works, it renews the lease every quarter of it, for at most ``longest_step``.
    lease: timedelta = timedelta(minutes=60)
    longest_step: timedelta = timedelta(hours=6)
    # A sent batch with no answer (results or a refusal notice) after this many banking days
    # raises a follow-up item.
    answer_within_banking_days: int = 2
    # A bank's file format and calendar without its keys, for the reconcile step, read from the
    # same configuration as ``profile_loader``; None: taken from the profile (which reads keys).
    format_loader: Callable[[str], BankFormat] | None = None
    # Today's business date on the business clock (the scheduler's, simulated in rehearsals);
    # None: the real today in ``payments.scheduler.timezone`` (Asia/Shanghai). A date caught
    # up or re-run by hand runs before today, and the bank may have booked what its files
    # answer on any day up to today: only a booking after today is impossible.
    clock: Callable[[], date] | None = None
    _profiles: dict[str, BankProfile] = field(default_factory=dict)

    def today(self) -> date:
        """Today on the business clock, whatever date the steps run for."""
        if self.clock is not None:
            return self.clock()
        return today_in(self.payments.scheduler.timezone)

    def profile(self, code: str) -> BankProfile:
        if code not in self._profiles:
            self._profiles[code] = self.profile_loader(code)
        return self._profiles[code]

    def format(self, code: str) -> BankFormat | BankProfile:
        """What reading the bank's stored statements needs (``adapter``, ``calendar``); each
        loader reads a bank's configuration once."""
        if self.format_loader is not None:
            return self.format_loader(code)
        return self.profile(code)

    def bank_codes(self) -> list[str]:
        with session_scope(self.factory) as session:
            return list(
                session.scalars(
                    select(Bank.code)
                    .join(SpecialAccount, SpecialAccount.bank_id == Bank.id)
                    .distinct()
                    .order_by(Bank.code)
                )
            )


def profile_loader(
    config_dir: Path, payments: PaymentsConfig, root: Path | None = None
) -> Callable[[str], BankProfile]:
    """Loads ``config_dir/banks/<code>.toml``; relative paths in it resolve against ``root``."""

    def load(code: str) -> BankProfile:
        return load_profile(code, config_dir=config_dir, payments=payments, root=root)

    return load


# --- the steps ---------------------------------------------------------------------------


def _fetch(ctx: Nightly, day: date, bank: str) -> dict[str, Any]:
    profile = ctx.profile(bank)
    with ctx.transport_factory(profile) as transport:
        report = ingestion.fetch_inbound(ctx.factory, profile, transport, business_date=day)
    outcome: dict[str, Any] = {
        "stored": len(report.stored),
        "seen_before": len(report.seen_before),
        "quarantined": len(report.quarantined),
    }
    if report.waiting:
        outcome["waiting"] = len(report.waiting)  # not marked finished yet: a later night's
    if report.unrecognised:  # named as no file of this bank is: its configuration may be wrong
        outcome["unrecognised"] = sorted(report.unrecognised)
    return outcome


@dataclass
class _Formats:
    """Each bank's file format and calendar for one step, read once (no keys: the files were
    decrypted and verified when fetched). A bank whose configuration cannot be read is
    remembered with the reason, and only its own files wait."""

    ctx: Nightly
    loaded: dict[str, BankFormat | BankProfile] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    waiting: Counter[str] = field(default_factory=Counter)

    def of(self, code: str) -> BankFormat | BankProfile | None:
        if code in self.unreadable:
            return None
        if code not in self.loaded:
            try:
                self.loaded[code] = self.ctx.format(code)
            except Exception as exc:  # the bank's own configuration: the other banks go on
                self.unreadable[code] = f"{type(exc).__name__}: {exc}"
                log.error("bank %s: configuration cannot be read: %s", code, exc)
                return None
        return self.loaded[code]


def _ingest(ctx: Nightly, day: date, kind: InboundKind, today: date) -> dict[str, Any]:
    # A refused batch gets no results: its notice is the results step's to apply.
    kinds = (kind, InboundKind.REFUSAL) if kind is InboundKind.RESULT else (kind,)
    with session_scope(ctx.factory) as session:
        pending = ingestion.pending_files(session, *kinds)
    formats = _Formats(ctx)
    # A date caught up (or re-run by hand) fetches what the bank wrote since, booked as late
    # as today: a booking date is impossible only after today (never before ``day``).
    booked_by = max(day, today, ctx.today())
    applied = quarantined = 0
    for pending_file in pending:
        file_id = pending_file.id
        bank_format = None
        if pending_file.kind is not InboundKind.REFUSAL:
            # read before the file is: a bank we cannot read leaves its file as received,
            # for the night its configuration is mended, never quarantined for our fault
            bank_format = formats.of(pending_file.bank_code)
            if bank_format is None:
                formats.waiting[pending_file.bank_code] += 1
                continue
        reason = None
        answers: str | None = None  # the batch a result file names, once it is read
        try:
            with session_scope(ctx.factory) as session:
                # locked, and read again: another run applying the same file (a date caught up
                # beside this one) has done so by the time the lock is ours
                file = session.get(
                    InboundFile, file_id, with_for_update=True, populate_existing=True
                )
                assert file is not None
                if file.status is not InboundStatus.RECEIVED:
                    continue
                if bank_format is None:  # a refusal notice: one format for every bank
                    summary = refusals.apply_refusal_notice(
                        session,
                        file,
                        refusals.parse_notice(file.name, file.content),
                        business_date=day,
                        config=ctx.payments,
                    )
                elif kind is InboundKind.RESULT:
                    parsed = bank_format.adapter.parse_result(file.content)
                    answers = parsed.original_message_id
                    summary = ingestion.apply_result_file(
                        session,
                        file,
                        parsed,
                        business_date=day,
                        config=ctx.payments,
                        booked_by=booked_by,
                    )
                else:
                    summary = ingestion.apply_statement_file(
                        session,
                        file,
                        bank_format.adapter.parse_statements(file.content),
                        business_date=day,
                    )
                ingestion.finish(file, summary)
            applied += 1
        except FileFormatError as exc:
            reason = f"文件格式错误 malformed: {exc}"
        except (AdapterError, HuzhuError) as exc:
            reason = str(exc)
        except (DataError, OverflowError) as exc:
            # a value the database cannot hold (a number beyond BIGINT, a text too long):
            # the file is at fault, and left as received it would block every later night
            reason = f"数据超出可存储范围 a value the database cannot hold: {_first_line(exc)}"
        if reason is not None:
            log.warning("inbound file %s quarantined: %s", file_id, reason)
            with session_scope(ctx.factory) as session:
                ingestion.quarantine(session, file_id, reason, answers=answers)
            quarantined += 1
    outcome: dict[str, Any] = {"applied": applied, "quarantined": quarantined}
    if kind is InboundKind.RESULT:

        def calendar_of(code: str) -> BankingCalendar | None:
            bank_format = formats.of(code)
            return None if bank_format is None else bank_format.calendar

        with session_scope(ctx.factory) as session:
            chased = refusals.chase_unanswered(
                session,
                business_date=day,
                banking_days=ctx.answer_within_banking_days,
                calendar_of=calendar_of,
            )
        if chased:
            outcome["unanswered_batches"] = len(chased)
    if formats.unreadable:
        outcome["waiting"] = dict(formats.waiting)
        raise BanksUnreadable(outcome, formats.unreadable, formats.waiting)
    return outcome


class StepIncomplete(Exception):  # noqa: N818
    """A step that did part of its work: what it did stays done and is its summary, and the
    step fails, so that the operator sees it and the next run retries the rest."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


class BanksUnreadable(StepIncomplete):
    """The configuration of some banks could not be read: their stored files wait (as
    received) for the next run; the other banks' files were applied."""

    def __init__(
        self, summary: dict[str, Any], unreadable: dict[str, str], waiting: Counter[str]
    ) -> None:
        banks = "; ".join(
            f"银行 {code} 配置无法读取，其 {waiting[code]} 个文件留待下次处理 bank {code}: "
            f"configuration cannot be read ({why}); {waiting[code]} of its file(s) wait for "
            "the next run"
            for code, why in sorted(unreadable.items())
        )
        done = f"{summary['applied']} applied, {summary['quarantined']} quarantined"
        super().__init__(f"{banks} ({done})", summary)


def _reconcile(ctx: Nightly, day: date) -> dict[str, Any]:
    """Reconciles every special account and business date the run date asks for
    (``gateway.reconcile.service.pending_dates``), each in its own transaction: what is done
    stays done if a later one fails (the retry starts after it), and no run still holds the
    locks of an earlier one's automatic bookings while it waits for the journal fence."""
    if (
        importlib.util.find_spec("gateway.reconcile") is None
        or importlib.util.find_spec("gateway.reconcile.service") is None
    ):
        return {"ran": False, "note": "对账模块未安装 reconciliation not installed: nothing to run"}
    service = importlib.import_module("gateway.reconcile.service")
    calendars = importlib.import_module("gateway.reconcile.calendars")
    formats = _Formats(ctx)
    with session_scope(ctx.factory) as session:
        bank_of = dict(
            session.execute(
                select(SpecialAccount.id, Bank.code).join(Bank, Bank.id == SpecialAccount.bank_id)
            ).all()
        )
        unreadable = {code for code in set(bank_of.values()) if formats.of(code) is None}
        # the statements of the days before ``day``, read with each bank's adapter; banking
        # days counted on the banks' own holiday calendar (the one batches are sent on)
        config = calendars.match_config(
            session, lambda code: _readable(formats, code).calendar, leave_out=unreadable
        )
        pending = service.pending_dates(session, day)
    accounts = []
    failed: list[str] = []
    broken: set[int] = set()  # a later date of an account waits for the one that failed
    waiting = 0
    for special_id, business_date in pending:
        if special_id in broken:
            waiting += 1
            continue
        if formats.of(bank_of[special_id]) is None:
            # its statements cannot be read tonight: reconciled without them, its days would
            # show gaps that the statements, read later, could no longer close
            failed.append(
                f"special account {special_id} on {business_date}: bank {bank_of[special_id]}"
                f" configuration cannot be read ({formats.unreadable[bank_of[special_id]]})"
            )
            broken.add(special_id)
            continue
        try:
            with session_scope(ctx.factory) as session:
                outcome = service.reconcile_account(
                    session,
                    special_id,
                    business_date,
                    adapter_for=lambda code: _readable(formats, code).adapter,
                    config=config,
                )
                accounts.append(outcome.summary())
        except Exception as exc:  # the other accounts are still reconciled; the step fails
            error = f"special account {special_id} on {business_date}: {type(exc).__name__}: {exc}"
            log.exception("reconcile failed", extra={"business_date": str(business_date)})
            failed.append(error)
            broken.add(special_id)
    if failed:
        raise ReconcileIncomplete(len(accounts), failed, waiting)
    return {"ran": True, "accounts": accounts}


def _readable(formats: _Formats, code: str) -> BankFormat | BankProfile:
    """The bank's format, or the reason it cannot be read raised (``match_config`` leaves such
    a bank out; its accounts wait)."""
    found = formats.of(code)
    if found is None:
        raise LookupError(formats.unreadable[code])
    return found


class ReconcileIncomplete(Exception):  # noqa: N818
    """Some special accounts could not be reconciled; the others were, and stay so. The step
    fails, so the next run retries what is left."""

    def __init__(self, done: int, failed: Sequence[str], waiting: int) -> None:
        later = f", {waiting} later date(s) of those accounts wait for them" if waiting else ""
        super().__init__(
            f"{len(failed)} reconciliation(s) failed, {done} done{later}: " + "; ".join(failed)
        )


def _first_line(exc: BaseException) -> str:
    """A database error's own message, without the statement and parameters it quotes."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__


def _collections(ctx: Nightly, day: date) -> dict[str, Any]:
    with session_scope(ctx.factory) as session:
        created = create_due_collections(session, day, ctx.payments)
        return {"created": len(created), "amount_fen": sum(i.amount_fen for i in created)}


def _batches(ctx: Nightly, day: date, bank: str, today: date) -> dict[str, Any]:
    profile = ctx.profile(bank)
    with session_scope(ctx.factory) as session:
        # a date caught up (or re-run by hand) is built on a later day: the bank is asked to
        # pay on that day (or its next banking day), not on ``day``, gone by
        built = build_batches(
            session,
            profile,
            business_date=day,
            cipher=ctx.cipher,
            payments=ctx.payments,
            today=max(day, today, ctx.today()),
        )
    crash_point("after_store")
    if not built.banking_day:
        summary: dict[str, Any] = {"banking_day": False}
    else:
        summary = {"built": len(built.batches), "instructions": built.instructions}
        if built.refused:
            summary["refused"] = len(built.refused)
    with ctx.transport_factory(profile) as transport:
        sent = send_stored_batches(ctx.factory, profile, transport, business_date=day)
    summary.update(
        delivered=len(sent.delivered),
        already_there=len(sent.already_there),
        failed=len(sent.failed),
    )
    if sent.unreachable is not None:
        raise TransportUnreachable(sent.unreachable)
    if sent.busy:  # another run holds them: it marks them sent, or they wait for the next run
        summary["sent_by_another_run"] = sorted(sent.busy)
    if sent.failed:
        summary["failed_files"] = sorted(sent.failed)
        raise DeliveryFailed(summary, sent.failed)
    return summary


class TransportUnreachable(Exception):  # noqa: N818
    """The bank's server could not be reached; what is stored is sent on the next run."""


class DeliveryFailed(StepIncomplete):
    """Batch files the bank's server refused (a different file under the same name, say):
    they stay stored and are tried again each run, so the step fails until they go."""

    def __init__(self, summary: dict[str, Any], failed: dict[str, str]) -> None:
        files = "; ".join(f"{name}: {why}" for name, why in sorted(failed.items()))
        super().__init__(
            f"{len(failed)} 个批次文件无法送达，下次运行重试 {len(failed)} batch file(s) could "
            f"not be delivered, tried again next run: {files}",
            summary,
        )


# --- running -----------------------------------------------------------------------------


def _partitions(ctx: Nightly, step: str) -> list[str]:
    return ctx.bank_codes() if step in ("fetch", "batches", "batches_late") else [ALL]


def _run_step(ctx: Nightly, step: str, day: date, partition: str, today: date) -> dict[str, Any]:
    if step == "fetch":
        return _fetch(ctx, day, partition)
    if step == "results":
        return _ingest(ctx, day, InboundKind.RESULT, today)
    if step == "statements":
        return _ingest(ctx, day, InboundKind.STATEMENT, today)
    if step == "reconcile":
        return _reconcile(ctx, day)
    if step == "collections":
        return _collections(ctx, day)
    if step in ("batches", "batches_late"):
        return _batches(ctx, day, partition, today)
    raise ValueError(f"unknown step {step!r}; steps are {', '.join(STEPS + EXTRA_STEPS)}")


def run_date(
    ctx: Nightly,
    day: date,
    steps: Sequence[str] = STEPS,
    *,
    on_step: Callable[[StepOutcome], None] | None = None,
    today: date | None = None,
) -> list[StepOutcome]:
    """Run each step once for ``day``; a step already done is skipped, one another run is
    doing is left to it (``running_elsewhere``).

    A failing step is recorded as failed and the later steps still run: fetching may fail
    while results already stored can be ingested and batches built. ``today``: the date the
    run is made on when it is later than ``day`` (a date caught up); the business clock's
    today (``Nightly.today``) counts too."""
    outcomes: list[StepOutcome] = []
    for step in steps:
        for partition in _partitions(ctx, step):
            with session_scope(ctx.factory) as session:
                claimed = guard.claim(
                    session,
                    step=step,
                    business_date=day,
                    partition=partition,
                    owner=ctx.owner,
                    lease=ctx.lease,
                )
            if claimed is None:
                outcome = StepOutcome(step, day, partition, "skipped")
            elif isinstance(claimed, guard.Holder):
                outcome = StepOutcome(
                    step, day, partition, "running_elsewhere", _holder_summary(claimed)
                )
                log.warning(
                    "step running elsewhere",
                    extra={"step": step, "business_date": str(day), "partition": partition}
                    | outcome.summary,
                )
            else:
                outcome = _execute(ctx, claimed, step, day, partition, today or day)
            outcomes.append(outcome)
            if on_step is not None:
                on_step(outcome)
    return outcomes


def _holder_summary(holder: guard.Holder) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "held_by": holder.owner,
        "since": as_utc(holder.since).isoformat(timespec="seconds"),
    }
    if holder.heartbeat_at is not None:
        summary["last_alive"] = as_utc(holder.heartbeat_at).isoformat(timespec="seconds")
    return summary


def _execute(
    ctx: Nightly, run: guard.Claim, step: str, day: date, partition: str, today: date
) -> StepOutcome:
    where = {"step": step, "business_date": str(day), "partition": partition}
    log.info("step started", extra=where)
    summary: dict[str, Any] = {}
    error: str | None = None
    try:
        with heartbeat(ctx, run, where):
            summary = _run_step(ctx, step, day, partition, today)
    except Exception as exc:  # recorded, then the next step runs
        error = f"{type(exc).__name__}: {exc}"
        summary = exc.summary if isinstance(exc, StepIncomplete) else {}
        log.error("step failed", extra=where | {"error": error})
    with session_scope(ctx.factory) as session:
        if error is None:
            text = json.dumps(summary, ensure_ascii=False)
            holder = guard.finish(session, run, ok=True, summary=text)
        else:
            text = json.dumps(summary, ensure_ascii=False) if summary else ""
            holder = guard.finish(session, run, ok=False, summary=text, error=error)
    if holder is not None:
        taken = {"taken_over_by": holder.owner, "its_status": holder.status.value}
        log.warning("step taken over by another run; its outcome stands", extra=where | taken)
        return StepOutcome(step, day, partition, "taken_over", summary | taken, error)
    if error is not None:
        return StepOutcome(step, day, partition, "failed", summary, error)
    log.info("step done", extra=where | {"summary": summary})
    return StepOutcome(step, day, partition, "ran", summary)


def heartbeat(ctx: Nightly, run: guard.Claim, where: dict[str, str]) -> KeepAlive:
    """Renews a run's lease while its step works, every quarter of the lease, for at most
    ``longest_step`` (see :class:`KeepAlive`)."""

    def beat() -> bool:
        with session_scope(ctx.factory) as session:
            return guard.beat(session, run)

    return KeepAlive(
        beat,
        every=ctx.lease.total_seconds() / 4,
        longest=ctx.longest_step.total_seconds(),
        what="step",
        where=where,
    )


def steps_not_done(ctx: Nightly, day: date, steps: Sequence[str] = STEPS) -> list[tuple[str, str]]:
    """The (step, partition) runs of ``day`` that have not succeeded (yet)."""
    with session_scope(ctx.factory) as session:
        done = {
            (step, partition)
            for step, partition in session.execute(
                select(JobRun.step, JobRun.partition).where(
                    JobRun.business_date == day, JobRun.status == RunStatus.SUCCEEDED
                )
            )
        }
    return [(s, p) for s in steps for p in _partitions(ctx, s) if (s, p) not in done]


def dates_to_run(ctx: Nightly, day: date, catch_up_days: int) -> list[date]:
    """Missed dates (a step never succeeded) since the first run, oldest first, then ``day``."""
    with session_scope(ctx.factory) as session:
        first = session.scalar(select(func.min(JobRun.business_date)))
        done = {
            d
            for (d,) in session.execute(
                select(JobRun.business_date)
                .where(JobRun.status == RunStatus.SUCCEEDED, JobRun.step == STEPS[-1])
                .distinct()
            )
        }
    if first is None or first >= day:
        return [day]
    start = max(first, day - timedelta(days=catch_up_days))
    days = [start + timedelta(days=n) for n in range((day - start).days)]
    return [d for d in days if d not in done] + [day]


def run_through(
    ctx: Nightly,
    day: date,
    *,
    catch_up_days: int = 7,
    steps: Sequence[str] = STEPS,
    on_step: Callable[[StepOutcome], None] | None = None,
) -> list[StepOutcome]:
    outcomes: list[StepOutcome] = []
    for each in dates_to_run(ctx, day, catch_up_days):
        # the dates before ``day`` are run on ``day``: what the bank has written since is
        # fetched for them, and ``day`` is the latest it can have booked at least
        outcomes.extend(run_date(ctx, each, steps, on_step=on_step, today=day))
    return outcomes


def outcome_dict(outcome: StepOutcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["business_date"] = outcome.business_date.isoformat()
    return data


def today_in(zone_name: str, now: datetime | None = None) -> date:
    return (now or datetime.now(ZoneInfo(zone_name))).astimezone(ZoneInfo(zone_name)).date()
