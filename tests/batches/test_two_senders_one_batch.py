"""Two senders never deliver one batch at once: while one run is writing a batch's file, a
second night's step leaves the batch to it and ``resend`` is refused, so nobody truncates the
file being written or writes it again after the bank took it. A hold left by a crashed
process, or by another host past ``SEND_LEASE``, is taken over."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from adapters.transport.memory import MemoryTransport
from gateway.batches import sender
from gateway.batches.builder import build_batches
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.batches.sender import SEND_LEASE, SendReport, resend, send_stored_batches
from gateway.db import session_scope, utcnow
from gateway.errors import Conflict
from tests.settle_support import CIPHER, DAY1, Settle, settle_on_database


class HeldWrite(MemoryTransport):
    """A bank server whose first ``.part`` write waits until the test lets it go on."""

    def __init__(self, server: MemoryTransport) -> None:
        super().__init__(server.conventions, folders=["in", "out"])
        self.writing = threading.Event()
        self.go_on = threading.Event()
        self._held = False

    def _write(self, path: str, data: bytes) -> None:
        if path.endswith(".part") and not self._held:
            self._held = True
            self.writing.set()
            assert self.go_on.wait(10), "the test never let the write go on"
        super()._write(path, data)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def _stored_batch(settle: Settle) -> PaymentBatch:
    settle.released_loan(300_000)
    with session_scope(settle.factory) as session:
        built = build_batches(
            session,
            settle.profile,
            business_date=DAY1,
            cipher=CIPHER,
            payments=settle.payments,
        )
    assert len(built.batches) == 1
    return settle.fresh().scalars(select(PaymentBatch)).one()


def _send(settle: Settle, server: MemoryTransport) -> SendReport:
    return send_stored_batches(settle.factory, settle.profile, server, business_date=DAY1)


def test_a_second_sender_leaves_a_batch_being_written_to_the_first(settle: Settle) -> None:
    batch = _stored_batch(settle)
    server = HeldWrite(settle.server)
    first: list[SendReport] = []
    writer = threading.Thread(target=lambda: first.append(_send(settle, server)))
    writer.start()
    try:
        assert server.writing.wait(10)
        # another night's step, caught up beside the first: the batch is left to the writer
        second = _send(settle, server)
        assert second.busy == {batch.file_name: second.busy[batch.file_name]}
        assert (second.delivered, second.already_there) == ([], [])
        # an operator's resend is refused, naming the batch, while the first is writing
        with pytest.raises(Conflict) as refused:
            resend(settle.factory, settle.profile, server, batch.id, business_date=DAY1)
        assert refused.value.code == "batch_being_sent"
        assert batch.file_name in refused.value.message_zh
    finally:
        server.go_on.set()
        writer.join(10)

    assert first[0].delivered == [batch.file_name]
    # the file was written once, through one .part, and the hold is given back
    assert server.writes().count(f"in/{batch.file_name}.part") == 1
    done = settle.fresh().get(PaymentBatch, batch.id)
    assert done is not None
    assert done.status is BatchStatus.SENT
    assert (done.sending_owner, done.sending_since) == (None, None)


def test_a_sender_that_gets_the_batch_after_it_was_sent_leaves_it(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second sender read the list of stored batches before the first marked the batch
    sent; once it holds the batch it sees it sent and does not deliver it again (the bank
    may already have taken the file from its folder)."""
    batch = _stored_batch(settle)
    claim = sender._claim
    other_ran: list[SendReport] = []
    calls: list[int] = []

    def claim_after_the_other_sent(factory: object, batch_id: int) -> sender._Hold:
        calls.append(batch_id)
        if len(calls) == 1:  # the other run goes first, and the bank takes its file
            other_ran.append(_send(settle, settle.server))
            settle.server.delete(f"in/{batch.file_name}")
        return claim(settle.factory, batch_id)

    monkeypatch.setattr(sender, "_claim", claim_after_the_other_sent)
    late = _send(settle, settle.server)

    assert other_ran[0].delivered == [batch.file_name]
    assert (late.delivered, late.already_there, late.busy) == ([], [], {})
    assert f"in/{batch.file_name}" not in settle.server.files()
    assert settle.server.writes().count(f"in/{batch.file_name}.part") == 1


@pytest.mark.parametrize(
    ("holder", "age", "taken_over"),
    [
        ("bank-gw-2:4242/abc", timedelta(minutes=5), False),  # another host, still working
        ("bank-gw-2:4242/abc", SEND_LEASE + timedelta(minutes=1), True),  # its lease ran out
        ("{host}:999999999/abc", timedelta(minutes=5), True),  # a process here that is gone
    ],
    ids=["other-host-fresh", "other-host-expired", "crashed-here"],
)
def test_a_hold_left_behind_is_taken_over_only_when_its_holder_is_done(
    settle: Settle, holder: str, age: timedelta, taken_over: bool
) -> None:
    import socket

    batch = _stored_batch(settle)
    with session_scope(settle.factory) as session:
        session.execute(
            update(PaymentBatch)
            .where(PaymentBatch.id == batch.id)
            .values(
                sending_owner=holder.format(host=socket.gethostname()),
                sending_since=utcnow() - age,
            )
        )

    report = _send(settle, settle.server)

    done = settle.fresh().get(PaymentBatch, batch.id)
    assert done is not None
    if taken_over:
        assert report.delivered == [batch.file_name]
        assert done.status is BatchStatus.SENT
        assert done.sending_owner is None
    else:
        assert report.busy == {batch.file_name: "bank-gw-2:4242/abc"}
        assert done.status is BatchStatus.STORED
        assert f"in/{batch.file_name}" not in settle.server.files()


def test_an_upload_longer_than_the_lease_keeps_the_batch_while_it_goes_on(
    settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder renews its hold while it uploads: a sender that comes after the lease's
    length, and cannot see whether the holder still runs (another host), leaves the batch
    instead of writing the same file beside the slow upload."""
    monkeypatch.setattr(sender, "SEND_LEASE", timedelta(seconds=0.4))
    # the second sender sees the holder as another host's process it cannot look at
    monkeypatch.setattr(sender, "process_gone", lambda holder: False)
    batch = _stored_batch(settle)
    server = HeldWrite(settle.server)
    first: list[SendReport] = []
    writer = threading.Thread(target=lambda: first.append(_send(settle, server)))
    writer.start()
    try:
        assert server.writing.wait(10)
        time.sleep(1.2)  # three lease lengths into the upload
        second = _send(settle, server)
        assert list(second.busy) == [batch.file_name]
        assert (second.delivered, second.already_there) == ([], [])
    finally:
        server.go_on.set()
        writer.join(10)

    assert first[0].delivered == [batch.file_name]
    assert server.writes().count(f"in/{batch.file_name}.part") == 1
    done = settle.fresh().get(PaymentBatch, batch.id)
    assert done is not None
    assert done.status is BatchStatus.SENT
    assert (done.sending_owner, done.sending_since) == (None, None)
