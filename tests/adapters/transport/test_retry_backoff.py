"""Retries with exponential backoff: transient failures only, with a fake clock."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from adapters.transport import (
    AuthenticationError,
    ChangedHostKeyError,
    ConnectFailedError,
    ConnectionDroppedError,
    DeliveryStatus,
    MemoryTransport,
    RemoteFileConflictError,
    RetryingTransport,
    RetryPolicy,
    TransportError,
    TransportTimeoutError,
    UploadConventions,
    deliver,
)

ErrorFactory = Callable[[str], TransportError]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def _retrying(bank: MemoryTransport, policy: RetryPolicy) -> tuple[RetryingTransport, FakeClock]:
    clock = FakeClock()
    return RetryingTransport(bank, policy, sleep=clock.sleep, clock=clock), clock


def test_delays_double_and_are_capped() -> None:
    policy = RetryPolicy(max_attempts=6, initial_delay=1, multiplier=2, max_delay=5)
    assert list(policy.delays()) == [1, 2, 4, 5, 5]


@pytest.mark.parametrize(
    "error",
    [
        lambda op: ConnectFailedError(f"refused during {op}"),
        lambda op: ConnectionDroppedError(f"dropped during {op}"),
        lambda op: TransportTimeoutError(f"timed out during {op}"),
    ],
)
def test_transient_failures_are_retried_until_success(error: ErrorFactory) -> None:
    bank = MemoryTransport(folders=["out"])
    bank.put("out/R.txt", b"result")
    bank.fail_next(3, error)
    transport, clock = _retrying(bank, RetryPolicy(max_attempts=5, initial_delay=2))
    assert transport.fetch("out/R.txt") == b"result"
    assert clock.sleeps == [2, 4, 8]


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    bank = MemoryTransport(folders=["out"])
    bank.fail_next(10)
    transport, clock = _retrying(bank, RetryPolicy(max_attempts=3, initial_delay=1))
    with pytest.raises(ConnectionDroppedError):
        transport.list("out")
    assert clock.sleeps == [1, 2]
    assert [op for op, _ in bank.operations] == ["list", "list", "list"]


def test_max_elapsed_stops_retrying_early() -> None:
    bank = MemoryTransport(folders=["out"])
    bank.fail_next(10)
    policy = RetryPolicy(max_attempts=10, initial_delay=10, max_elapsed=25)
    transport, clock = _retrying(bank, policy)
    with pytest.raises(ConnectionDroppedError):
        transport.ping()
    assert clock.sleeps == [10]  # a second wait of 20 s would end after 30 s


@pytest.mark.parametrize(
    "error",
    [
        lambda op: AuthenticationError("our key was refused"),
        lambda op: ChangedHostKeyError("changed", host="[127.0.0.1]:22", fingerprint="SHA256:x"),
        lambda op: RemoteFileConflictError("exists with other content"),
    ],
)
def test_permanent_failures_are_never_retried(error: ErrorFactory) -> None:
    bank = MemoryTransport(folders=["out"])
    bank.fail_next(1, error)
    transport, clock = _retrying(bank, RetryPolicy(max_attempts=5))
    with pytest.raises(TransportError):
        transport.ping()
    assert clock.sleeps == []
    assert len(bank.operations) == 1


def test_upload_dropped_midway_is_completed_exactly_once_by_the_retry() -> None:
    bank = MemoryTransport(UploadConventions(marker_suffix=".done"), folders=["in"])
    data = b"D|1|100.00\r\n" * 500
    bank.drop_next_write_after(1000)
    transport, clock = _retrying(bank, RetryPolicy(max_attempts=3, initial_delay=1))
    outcome = deliver(transport, "in", "DF.txt", data, hashlib.sha256(data).hexdigest())
    assert outcome.status is DeliveryStatus.DELIVERED
    assert clock.sleeps == [1]
    assert bank.files() == {"in/DF.txt": data, "in/DF.txt.done": b""}
    assert bank.writes().count("in/DF.txt.part") == 2
    assert bank.writes().count("in/DF.txt.done") == 1


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)


@pytest.mark.parametrize("reply_lost", [False, True], ids=["before-effect", "reply-lost"])
@pytest.mark.parametrize("at", range(14))
def test_a_connection_lost_at_any_step_still_delivers_exactly_once(
    at: int, reply_lost: bool
) -> None:
    bank = MemoryTransport(
        UploadConventions(marker_suffix=".done", checksum_suffix=".sha256"), folders=["in"]
    )
    if reply_lost:
        bank.lose_reply_of_operation(at)
    else:
        bank.fail_operation(at)
    data = b"H|DF|2|300.00\r\n" * 40
    digest = hashlib.sha256(data).hexdigest()
    transport, _ = _retrying(bank, RetryPolicy(max_attempts=3, initial_delay=1))

    outcome = deliver(transport, "in", "DF.txt", data, digest, sidecars={".sig": b"c2ln\n"})

    assert outcome.status in {DeliveryStatus.DELIVERED, DeliveryStatus.ALREADY_DELIVERED}
    assert bank.files() == {
        "in/DF.txt": data,
        "in/DF.txt.sig": b"c2ln\n",
        "in/DF.txt.sha256": f"{digest}  DF.txt\n".encode(),
        "in/DF.txt.done": b"",
    }
    # The marker, which tells the bank to take the file, took effect once (an attempt that
    # failed before reaching the server is in the log too).
    failed_marker_attempt = (
        not reply_lost
        and at < len(bank.operations)
        and bank.operations[at] == ("write", "in/DF.txt.done")
    )
    assert bank.writes().count("in/DF.txt.done") == 1 + failed_marker_attempt
