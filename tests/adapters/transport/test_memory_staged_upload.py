"""The staged upload and exactly-once delivery, on the in-memory transport."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.transport import (
    ConnectionDroppedError,
    DeliveryStatus,
    InboundAction,
    MemoryTransport,
    RemoteFileConflictError,
    RemoteFileNotFoundError,
    Transport,
    TransportError,
    UploadConventions,
    deliver,
    dispose_fetched,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bank(**conventions: str | None) -> MemoryTransport:
    merged: dict[str, str | None] = {
        "marker_suffix": ".done",
        "checksum_suffix": ".sha256",
        "processed_folder": "out/processed",
        **conventions,
    }
    return MemoryTransport(UploadConventions(**merged), folders=["in", "out"])


def test_memory_transport_satisfies_the_protocol() -> None:
    assert isinstance(_bank(), Transport)


def test_upload_order_is_part_then_rename_then_side_files_then_marker() -> None:
    bank = _bank()
    report = bank.upload("in", "DF_001.txt", b"batch", sidecars={".sig": b"c2ln\n"})
    assert bank.files() == {
        "in/DF_001.txt": b"batch",
        "in/DF_001.txt.done": b"",
        "in/DF_001.txt.sha256": f"{_sha(b'batch')}  DF_001.txt\n".encode(),
        "in/DF_001.txt.sig": b"c2ln\n",
    }
    assert bank.writes() == [
        "in/DF_001.txt.part",
        "in/DF_001.txt.sig.part",
        "in/DF_001.txt.sha256.part",
        "in/DF_001.txt.done",
    ]
    assert report.written[-1] == "in/DF_001.txt.done"


def test_ok_marker_and_no_checksum_as_another_bank_wants() -> None:
    bank = _bank(marker_suffix=".ok", checksum_suffix=None)
    bank.upload("in", "PAIN001_1.xml", b"<xml/>")
    assert sorted(bank.files()) == ["in/PAIN001_1.xml", "in/PAIN001_1.xml.ok"]


def test_upload_into_a_missing_folder_is_refused() -> None:
    with pytest.raises(RemoteFileNotFoundError, match="nowhere"):
        _bank().upload("nowhere", "DF_001.txt", b"batch")


@pytest.mark.parametrize("name", ["", "../DF.txt", "a/b.txt", "DF.txt.part", ".."])
def test_names_that_are_not_plain_file_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="plain file name"):
        _bank().upload("in", name, b"batch")


def test_deliver_uploads_when_absent_and_uploads_nothing_the_second_time() -> None:
    bank = _bank()
    first = deliver(bank, "in", "DF_001.txt", b"batch", _sha(b"batch"))
    assert first.status is DeliveryStatus.DELIVERED
    writes_before = len(bank.writes())

    second = deliver(bank, "in", "DF_001.txt", b"batch", _sha(b"batch"))
    assert second.status is DeliveryStatus.ALREADY_DELIVERED
    assert second.written == ()
    assert len(bank.writes()) == writes_before


def test_deliver_refuses_to_overwrite_a_different_file_of_the_same_name() -> None:
    bank = _bank()
    bank.put("in/DF_001.txt", b"the bank's own file")
    with pytest.raises(RemoteFileConflictError, match="refusing to overwrite"):
        deliver(bank, "in", "DF_001.txt", b"our batch", _sha(b"our batch"))
    assert bank.files()["in/DF_001.txt"] == b"the bank's own file"
    assert bank.writes() == []


def test_deliver_refuses_bytes_that_are_not_the_stored_ones() -> None:
    with pytest.raises(ValueError, match="stored SHA-256"):
        deliver(_bank(), "in", "DF_001.txt", b"re-rendered", _sha(b"original"))


def test_crash_after_rename_is_completed_without_sending_the_batch_again() -> None:
    bank = _bank()
    bank.put("in/DF_001.txt", b"batch")  # renamed, then the process died
    outcome = deliver(bank, "in", "DF_001.txt", b"batch", _sha(b"batch"))
    assert outcome.status is DeliveryStatus.ALREADY_DELIVERED
    assert outcome.written == ("in/DF_001.txt.sha256", "in/DF_001.txt.done")
    assert "in/DF_001.txt.part" not in bank.writes()


def test_stale_part_is_replaced_and_a_dropped_write_leaves_no_name() -> None:
    bank = _bank()
    bank.put("in/DF_001.txt.part", b"left by a crash")
    bank.drop_next_write_after(3)
    with pytest.raises(ConnectionDroppedError):
        bank.upload("in", "DF_001.txt", b"complete batch")
    assert "in/DF_001.txt" not in bank.files()
    assert bank.files()["in/DF_001.txt.part"] == b"com"

    bank.upload("in", "DF_001.txt", b"complete batch")
    assert bank.files()["in/DF_001.txt"] == b"complete batch"
    assert "in/DF_001.txt.part" not in bank.files()


def test_list_matches_the_pattern_and_hides_part_files() -> None:
    bank = _bank()
    for name in ("RESULT_2.txt", "RESULT_1.txt", "STMT_1.txt", "RESULT_3.txt.part"):
        bank.put(f"out/{name}", name.encode())
    assert [f.name for f in bank.list("out", "RESULT_*")] == ["RESULT_1.txt", "RESULT_2.txt"]
    assert [f.path for f in bank.list("out", "STMT_*")] == ["out/STMT_1.txt"]
    with pytest.raises(RemoteFileNotFoundError):
        bank.list("missing")


def test_fetched_files_are_left_moved_or_deleted_as_configured() -> None:
    bank = _bank()
    for name in ("A.txt", "B.txt", "C.txt"):
        bank.put(f"out/{name}", name.encode())
    assert dispose_fetched(bank, "out/A.txt", InboundAction.LEAVE) == "out/A.txt"
    assert dispose_fetched(bank, "out/B.txt", InboundAction.MOVE) == "out/processed/B.txt"
    assert dispose_fetched(bank, "out/C.txt", InboundAction.DELETE) is None
    assert sorted(bank.files()) == ["out/A.txt", "out/processed/B.txt"]


def test_moving_a_name_processed_before_keeps_both() -> None:
    bank = _bank()
    bank.put("out/processed/R.txt", b"yesterday")
    bank.put("out/R.txt", b"today")
    assert bank.move_to_processed("out/R.txt") == "out/processed/R.txt.1"
    assert bank.files()["out/processed/R.txt"] == b"yesterday"


def test_move_without_a_processed_folder_is_an_error() -> None:
    bank = MemoryTransport(UploadConventions(processed_folder=None), folders=["out"])
    bank.put("out/R.txt", b"x")
    with pytest.raises(TransportError, match="no processed folder"):
        bank.move_to_processed("out/R.txt")


def test_listed_mtime_comes_from_the_clock() -> None:
    moment = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
    bank = MemoryTransport(folders=["out"], clock=lambda: moment)
    bank.put("out/R.txt", b"x")
    assert bank.list("out")[0].mtime == moment


@settings(max_examples=80, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=2048),
    cut=st.integers(min_value=0, max_value=2048),
    drops=st.integers(min_value=0, max_value=3),
)
def test_any_number_of_dropped_attempts_ends_in_exactly_one_complete_file(
    data: bytes, cut: int, drops: int
) -> None:
    bank = _bank()
    for _ in range(drops):
        bank.drop_next_write_after(min(cut, len(data) - 1))
        with pytest.raises(ConnectionDroppedError):
            deliver(bank, "in", "DF.txt", data, _sha(data))
        assert "in/DF.txt" not in bank.files()
    outcome = deliver(bank, "in", "DF.txt", data, _sha(data))
    assert outcome.status is DeliveryStatus.DELIVERED
    again = deliver(bank, "in", "DF.txt", data, _sha(data))
    assert again.status is DeliveryStatus.ALREADY_DELIVERED
    assert sorted(bank.files()) == ["in/DF.txt", "in/DF.txt.done", "in/DF.txt.sha256"]
    assert bank.files()["in/DF.txt"] == data
