"""Crash points for the fault-injection tests of the exactly-once protocol.

Test hook, not a feature: when the environment variable ``HUZHU_TEST_CRASH_AT`` names one
of :data:`CRASH_POINTS`, the sending process kills itself with SIGKILL at that point, as a
power cut would. Production never sets it. The points, in the order a batch passes them:

- ``after_claim``: instructions claimed, the batch not yet stored (the transaction is lost);
- ``after_store``: the batch's bytes and SHA-256 committed, nothing uploaded;
- ``during_part``: half of ``NAME.part`` written on the server;
- ``after_rename``: ``NAME`` in place, its side files and marker not yet written;
- ``before_mark_sent``: the upload complete, the batch not yet marked sent.
"""

from __future__ import annotations

import os
import posixpath
import signal

from adapters.transport.base import PART_SUFFIX, RemoteFile, StagedTransport, Transport

CRASH_ENV = "HUZHU_TEST_CRASH_AT"
CRASH_POINTS = ("after_claim", "after_store", "during_part", "after_rename", "before_mark_sent")


def crash_point(name: str) -> None:
    """Die here, at once and without cleaning up, if the test hook names this point."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


class _CrashingTransport(StagedTransport):
    """Delegates every primitive to a staged transport, dying inside the upload on request."""

    def __init__(self, inner: StagedTransport) -> None:
        super().__init__(inner.conventions)
        self._inner = inner

    def list(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        return self._inner.list(folder, pattern)

    def fetch(self, path: str) -> bytes:
        return self._inner.fetch(path)

    def stat(self, path: str) -> RemoteFile | None:
        return self._inner.stat(path)

    def rename(self, source: str, target: str) -> None:
        self._inner.rename(source, target)

    def delete(self, path: str) -> None:
        self._inner.delete(path)

    def ping(self) -> None:
        self._inner.ping()

    def close(self) -> None:
        self._inner.close()

    def _write(self, path: str, data: bytes) -> None:
        if path.endswith(PART_SUFFIX) and os.environ.get(CRASH_ENV) == "during_part":
            self._inner._write(path, data[: len(data) // 2])
            crash_point("during_part")
        self._inner._write(path, data)

    def _publish(self, source: str, target: str) -> None:
        self._inner._publish(source, target)
        name = posixpath.basename(target)
        if "." in name and not name.endswith((".sig", ".sha256")):
            crash_point("after_rename")


def wrap_for_crash_tests(transport: StagedTransport) -> Transport:
    """The transport itself, or a crashing wrapper when the test hook asks for one."""
    if os.environ.get(CRASH_ENV) in ("during_part", "after_rename"):
        return _CrashingTransport(transport)
    return transport
