"""Who holds a claim: a process named ``host:pid`` (a claim may add ``/token``), and whether it
still exists.

The run guard's step rows and a batch's send lease record their holder this way, so a claim
left by a process of this host that crashed can be taken over at once instead of waiting for
its lease to run out.
"""

from __future__ import annotations

import os
import secrets
import socket


def this_process() -> str:
    """This process as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_token() -> str:
    """A holder name unique to one claim: ``host:pid/token`` (two threads of one process differ)."""
    return f"{this_process()}/{secrets.token_hex(6)}"


def process_gone(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer exists (it crashed).

    A process of another host, or a holder that names none, is never taken for gone."""
    process = holder.split("/", 1)[0]
    host, _, pid = process.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
