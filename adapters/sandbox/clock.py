"""The sandbox bank's simulated clock.

The bank runs on business time, not wall time: tests and the demo set it explicitly, and
``huzhu sandbox-bank serve`` runs it in real time or accelerated.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

BANK_TZ = ZoneInfo("Asia/Shanghai")


class Clock(ABC):
    """Tells the bank's current local (Asia/Shanghai) time."""

    @abstractmethod
    def now(self) -> datetime:
        """The current bank time, timezone-aware."""

    def today(self) -> date:
        return self.now().date()


class ManualClock(Clock):
    """A clock that moves only when told to (tests, the demo's day-by-day runs)."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._now = _aware(start)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = _aware(moment)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now = self._now + delta


class AcceleratedClock(Clock):
    """Bank time that starts at ``start`` and runs ``speed`` times faster than wall time."""

    def __init__(self, start: datetime, speed: int = 1) -> None:
        if speed < 1:
            raise ValueError(f"clock speed must be a positive integer, got {speed!r}")
        self._start = _aware(start)
        self._speed = speed
        self._origin = time.monotonic()

    @property
    def speed(self) -> int:
        return self._speed

    def now(self) -> datetime:
        elapsed = time.monotonic() - self._origin
        return self._start + timedelta(seconds=elapsed * self._speed)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=BANK_TZ)
