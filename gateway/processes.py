"""Who holds a claim: a process named ``host:pid@namespace`` (a claim may add ``/token``), and
whether it still exists.

The run guard's step rows and a batch's send lease record their holder this way, so a claim
left by a process of this host that crashed can be taken over at once instead of waiting for
its lease to run out. ``namespace`` tells this machine's boot and PID namespace apart from
another's: containers or cloned machines may share a hostname while their process ids mean
different processes, and a pid one cannot see there says nothing about whether it still runs.
Holders written before the namespace was recorded (``host:pid``) are judged by host and pid.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE = Path("/proc/self/ns/pid")


def this_process() -> str:
    """This process as ``host:pid@namespace`` (``host:pid`` where the system does not tell)."""
    process = f"{socket.gethostname()}:{os.getpid()}"
    namespace = process_namespace()
    return f"{process}@{namespace}" if namespace else process


def claim_token() -> str:
    """A holder name unique to one claim: ``host:pid@namespace/token`` (two threads of one
    process differ)."""
    return f"{this_process()}/{secrets.token_hex(6)}"


@functools.cache
def process_namespace() -> str:
    """This boot of this kernel and this process's PID namespace, as 12 hex digits: the same
    for every process whose pid ``os.kill`` can judge from here; "" where ``/proc`` tells
    neither. Neither changes while a process runs."""
    try:
        boot = BOOT_ID.read_text(encoding="ascii").strip()
    except OSError:
        boot = ""
    try:
        pids = str(os.stat(PID_NAMESPACE).st_ino)
    except OSError:
        pids = ""
    if not boot and not pids:
        return ""
    return hashlib.sha256(f"{boot}|{pids}".encode()).hexdigest()[:12]


def process_gone(holder: str) -> bool:
    """True when ``holder`` names a process of this host (and, when it names one, of this boot
    and PID namespace) that no longer exists: it crashed.

    A process of another host or namespace, or a holder that names none, is never taken for
    gone: its lease decides."""
    process, at, namespace = holder.split("/", 1)[0].partition("@")
    host, _, pid = process.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if at and namespace != process_namespace():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class KeepAlive:
    """Renews a claim from a background thread while the block runs: calls ``renew`` every
    ``every`` seconds, so no other process takes over work that is only slow. ``renew``
    returns False once the claim is no longer ours (taken over): renewing stops. Work still
    going after ``longest`` seconds (hung, most likely) is no longer renewed, so that once its
    lease runs out another process takes it over. A renewal that fails (the database out of
    reach a moment) is logged and tried again at the next one."""

    def __init__(
        self,
        renew: Callable[[], bool],
        *,
        every: float,
        longest: float,
        what: str,
        where: Mapping[str, str],
    ) -> None:
        self._renew = renew
        self._every = every
        self._longest = longest
        self._what = what
        self._where = dict(where)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"keep-alive {what}", daemon=True)

    def __enter__(self) -> KeepAlive:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        until = time.monotonic() + self._longest
        while not self._stop.wait(self._every):
            if time.monotonic() > until:
                log.warning(
                    "%s still working after its longest time; its lease is no longer renewed",
                    self._what,
                    extra=self._where | {"longest_s": str(self._longest)},
                )
                return
            try:
                ours = self._renew()
            except Exception as exc:  # the database out of reach a moment
                log.warning(
                    "%s: renewing its lease failed",
                    self._what,
                    extra=self._where | {"error": repr(exc)},
                )
                continue
            if not ours:
                log.warning(
                    "%s taken over by another run while working", self._what, extra=self._where
                )
                return
