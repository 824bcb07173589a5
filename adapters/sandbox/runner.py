"""Running the sandbox bank on its own: the SFTP server plus the engine on a clock.

``BankRunner.step()`` looks at the clock and does what a bank does at that time of day:
picks up files, books them at the cut-off, writes statements at the statement time and
closes the day. Days the clock has run past are caught up in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from adapters.sandbox.clock import BANK_TZ, AcceleratedClock, Clock
from adapters.sandbox.config import SandboxConfig
from adapters.sandbox.engine import BankEngine
from adapters.sandbox.sftp_server import SandboxServer

Reporter = Callable[[str], None]
OPENING_TIME = time(8, 0)


@dataclass
class BankRunner:
    engine: BankEngine
    clock: Clock
    report: Reporter = print
    _cutoff_done: set[date] = field(default_factory=set)

    def step(self) -> None:
        """Do whatever is due at the clock's current time."""
        now = self.clock.now()
        config = self.engine.config
        today = now.date()
        closed = self.engine.closed_through
        day = today if closed is None else closed + timedelta(days=1)
        while day < today:  # the clock ran past whole days: finish them in order
            self._cutoff(day)
            self._end_of_day(day)
            day += timedelta(days=1)
        if day > today:
            return  # today is closed already
        self.engine.pick_up(today)
        moment = now.timetz().replace(tzinfo=None)
        if moment >= config.cutoff and today not in self._cutoff_done:
            self._cutoff(today)
        if moment >= config.statement_time:
            self._end_of_day(today)

    def _cutoff(self, day: date) -> None:
        report = self.engine.run_cutoff(day)
        self._cutoff_done.add(day)
        self.report(
            f"{day.isoformat()} 日切 cut-off: {len(report.result_files)} 回盘 result file(s)"
            + (f", 拒绝 refused {', '.join(report.refused_files)}" if report.refused_files else "")
            + (
                f", 重复 duplicate {', '.join(report.duplicate_files)}"
                if report.duplicate_files
                else ""
            )
        )

    def _end_of_day(self, day: date) -> None:
        statements = self.engine.end_of_day(day)
        for statement in statements:
            self.report(
                f"{day.isoformat()} 对账单 statement {statement.account}: "
                f"{len(statement.entries)} line(s), closing {statement.closing_balance_fen} fen"
            )


@dataclass(frozen=True)
class RunningBank:
    """A sandbox bank whose SFTP server listens in a background thread."""

    engine: BankEngine
    server: SandboxServer
    known_hosts: Path  # pins the server's host key at its host and port


@contextmanager
def running_bank(
    config: SandboxConfig, clock: Clock, *, port: int | None = None
) -> Iterator[RunningBank]:
    """Start the bank for a test or the demo; the caller drives its days on ``clock``.

    The ``known_hosts`` line is written to ``<state_dir>/known_hosts``, where a bank
    config's ``known_hosts_path`` can point.
    """
    engine = BankEngine.from_config(config)
    with SandboxServer.for_engine(engine, clock, port=port) as server:
        known_hosts = write_known_hosts(config, server)
        yield RunningBank(engine, server, known_hosts)


def write_known_hosts(config: SandboxConfig, server: SandboxServer) -> Path:
    path = config.state_dir / "known_hosts"
    path.write_text(server.known_hosts_line(), encoding="utf-8")
    return path


def start_time(config: SandboxConfig, engine: BankEngine) -> datetime:
    """Where the clock starts: the configured start or now, but after the last closed day."""
    start = config.clock_start or datetime.now(BANK_TZ)
    if start.tzinfo is None:
        start = start.replace(tzinfo=BANK_TZ)
    closed = engine.closed_through
    if closed is not None and start.date() <= closed:
        start = datetime.combine(closed + timedelta(days=1), OPENING_TIME, tzinfo=BANK_TZ)
    return start


async def serve(
    config: SandboxConfig,
    stop: asyncio.Event,
    *,
    port: int | None = None,
    speed: int | None = None,
    start: datetime | None = None,
    tick_seconds: float = 1.0,
    report: Reporter = print,
) -> None:
    """Run the SFTP server and the bank's day until ``stop`` is set."""
    engine = BankEngine.from_config(config)
    clock = AcceleratedClock(
        start or start_time(config, engine), speed if speed is not None else config.clock_speed
    )
    server = SandboxServer.for_engine(engine, clock, port=port)
    await server.listen()
    known_hosts = write_known_hosts(config, server)
    report(f"沙箱银行 sandbox bank listening on sftp://{server.host}:{server.port}")
    report(f"host key {server.host_public_key()} (pinned in {known_hosts})")
    for inst in config.institutions:
        report(f"institution {inst.name}: folder {engine.institution_root(inst.name)}")
    report(f"bank time {clock.now().isoformat(timespec='seconds')}, speed x{clock.speed}")
    runner = BankRunner(engine, clock, report)
    try:
        while not stop.is_set():
            await asyncio.to_thread(runner.step)
            try:
                await asyncio.wait_for(stop.wait(), timeout=tick_seconds)
            except TimeoutError:
                continue
    finally:
        await server.close()
        report("沙箱银行已停止 sandbox bank stopped")
