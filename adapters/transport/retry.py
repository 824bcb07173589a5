"""Retries with exponential backoff, as a wrapper around any transport.

Only transient errors (could not connect, connection dropped, timeout) are retried. A host
key or authentication failure, a conflicting remote file or a missing file is raised at
once: trying again cannot change the answer. Clock and sleep are injectable for tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

from adapters.transport.base import RemoteFile, Transport, UploadReport
from adapters.transport.errors import TransientTransportError

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    The n-th retry waits ``initial_delay * multiplier ** (n - 1)`` seconds, capped at
    ``max_delay``; at most ``max_attempts`` attempts in all, and none that would start after
    ``max_elapsed`` seconds (when set).
    """

    max_attempts: int = 5
    initial_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    max_elapsed: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise ValueError("delays must be non-negative and the multiplier at least 1")

    def delays(self) -> Iterator[float]:
        """The waits between attempts (one fewer than ``max_attempts``)."""
        delay = self.initial_delay
        for _ in range(self.max_attempts - 1):
            yield min(delay, self.max_delay)
            delay *= self.multiplier


class RetryingTransport:
    """A transport that retries its inner transport's transient failures."""

    def __init__(
        self,
        inner: Transport,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"RetryingTransport({self.inner!r}, {self.policy!r})"

    def _call(self, operation: str, action: Callable[[], T]) -> T:
        started = self._clock()
        delays = self.policy.delays()
        attempt = 1
        while True:
            try:
                return action()
            except TransientTransportError as exc:
                delay = next(delays, None)
                elapsed = self._clock() - started
                limit = self.policy.max_elapsed
                if delay is None or (limit is not None and elapsed + delay > limit):
                    log.warning(
                        "transport %s failed after %d attempt(s), giving up: %s",
                        operation,
                        attempt,
                        exc,
                    )
                    raise
                log.info(
                    "transport %s failed (attempt %d), retrying in %.1f s: %s",
                    operation,
                    attempt,
                    delay,
                    exc,
                )
                self._sleep(delay)
                attempt += 1

    def list(self, folder: str, pattern: str = "*") -> list[RemoteFile]:
        return self._call("list", lambda: self.inner.list(folder, pattern))

    def fetch(self, path: str) -> bytes:
        return self._call("fetch", lambda: self.inner.fetch(path))

    def upload(
        self,
        folder: str,
        name: str,
        data: bytes,
        *,
        sidecars: Mapping[str, bytes] | None = None,
    ) -> UploadReport:
        # The inner upload is idempotent: a retry completes what a dropped attempt began.
        return self._call(
            "upload", lambda: self.inner.upload(folder, name, data, sidecars=sidecars)
        )

    def stat(self, path: str) -> RemoteFile | None:
        return self._call("stat", lambda: self.inner.stat(path))

    def exists(self, path: str) -> bool:
        return self._call("exists", lambda: self.inner.exists(path))

    def rename(self, source: str, target: str) -> None:
        self._call("rename", lambda: self.inner.rename(source, target))

    def delete(self, path: str) -> None:
        self._call("delete", lambda: self.inner.delete(path))

    def move_to_processed(self, path: str) -> str:
        return self._call("move_to_processed", lambda: self.inner.move_to_processed(path))

    def ping(self) -> None:
        self._call("ping", self.inner.ping)

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
