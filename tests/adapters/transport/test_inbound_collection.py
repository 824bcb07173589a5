"""Collecting inbound files: only finished ones, with signatures, put away with side files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.records import FileKind
from adapters.transport import (
    InboundAction,
    MemoryTransport,
    UploadConventions,
    dispose_inbound,
    fetch_inbound,
)

PATTERNS = {FileKind.RESULT: ["RESULT_*.txt"], FileKind.STATEMENT: ["STMT_*.txt"]}


class Ticking:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def bank() -> MemoryTransport:
    transport = MemoryTransport(
        UploadConventions(processed_folder="out/processed"), folders=["out"], clock=Ticking()
    )
    transport.put("out/STMT_9140100201_20260302.txt", b"statement")
    transport.put("out/STMT_9140100201_20260302.txt.done", b"")
    transport.put("out/RESULT_M1.txt", b"result one")
    transport.put("out/RESULT_M1.txt.sig", b"c2lnbmF0dXJl\n")
    transport.put("out/RESULT_M1.txt.done", b"")
    transport.put("out/RESULT_M2.txt", b"still being written")  # no marker yet
    transport.put("out/README.txt", b"not ours")
    transport.put("out/README.txt.done", b"")
    return transport


def test_only_marked_files_are_fetched_oldest_first_with_kind_and_signature(
    bank: MemoryTransport,
) -> None:
    files = fetch_inbound(bank, "out", PATTERNS, marker_suffix=".done")
    assert [(f.kind, f.name) for f in files] == [
        (FileKind.STATEMENT, "STMT_9140100201_20260302.txt"),
        (FileKind.RESULT, "RESULT_M1.txt"),
    ]
    assert files[0].signature is None
    assert files[1].signature == b"c2lnbmF0dXJl\n"
    assert files[1].data == b"result one"
    assert len(files[1].sha256) == 64


def test_without_a_marker_rule_every_matching_file_is_taken(bank: MemoryTransport) -> None:
    names = [f.name for f in fetch_inbound(bank, "out", PATTERNS, marker_suffix=None)]
    assert sorted(names) == ["RESULT_M1.txt", "RESULT_M2.txt", "STMT_9140100201_20260302.txt"]


def test_moving_takes_marker_and_signature_along(bank: MemoryTransport) -> None:
    result = fetch_inbound(bank, "out", PATTERNS, marker_suffix=".done")[1]
    moved = dispose_inbound(bank, result, InboundAction.MOVE, marker_suffix=".done")
    assert moved == "out/processed/RESULT_M1.txt"
    files = bank.files()
    assert "out/RESULT_M1.txt" not in files
    assert "out/RESULT_M1.txt.sig" not in files
    assert "out/RESULT_M1.txt.done" not in files
    assert files["out/processed/RESULT_M1.txt"] == b"result one"
    assert "out/processed/RESULT_M1.txt.sig" in files
    # The next run sees nothing new.
    names = [f.name for f in fetch_inbound(bank, "out", PATTERNS, marker_suffix=".done")]
    assert names == ["STMT_9140100201_20260302.txt"]


def test_deleting_and_leaving(bank: MemoryTransport) -> None:
    statement, result = fetch_inbound(bank, "out", PATTERNS, marker_suffix=".done")
    assert dispose_inbound(bank, statement, InboundAction.LEAVE, marker_suffix=".done") == (
        statement.remote.path
    )
    assert dispose_inbound(bank, result, InboundAction.DELETE, marker_suffix=".done") is None
    remaining = set(bank.files())
    assert "out/STMT_9140100201_20260302.txt" in remaining
    assert not {p for p in remaining if p.startswith("out/RESULT_M1")}
