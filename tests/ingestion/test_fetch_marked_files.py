"""Fetching: a bank that marks its finished files (``NAME.done``) has a file fetched only once
its marker is there, the marker put away with it and never taken for a file; a name longer
than we keep is stored quarantined, cut, instead of stopping the night's fetch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.records import CreditDebit, StatementEntry
from adapters.transport.memory import MemoryTransport
from gateway.ingestion.models import InboundFile, InboundStatus, StatementLine
from gateway.ingestion.service import NAME_MAX, REMOTE_PATH_MAX, reapply_file
from gateway.jobs.pipeline import run_date
from gateway.payments.models import FollowUpItem, FollowUpKind
from tests.settle_support import (
    DAY1,
    Settle,
    bank_profile,
    settle_in,
    settle_on_database,
    statement,
)

DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
SUB = "6200001-1"
NAME = "STMT_6200001_20240701.txt"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def _marks_finished_files(settle: Settle, **files: list[str]) -> None:
    settle.profile = bank_profile(sftp={"inbound_marker_suffix": ".done"}, files=files)


def _entry(txn: str, amount: int, *, on: date = DAY1) -> StatementEntry:
    return StatementEntry(
        booking_date=on,
        amount_fen=amount,
        credit_debit=CreditDebit.CREDIT,
        bank_transaction_id=txn,
        sub_account=SUB,
        counterparty_name="张三",
        remittance="转账",
    )


def _three_lines(settle: Settle) -> bytes:
    """A statement file's bytes; the test decides when and how much of it the bank writes."""
    return settle.bank.adapter.render_statement(
        statement(DAY1, [_entry("T1", 100), _entry("T2", 200), _entry("T3", 300)])
    )


def _files(settle: Settle) -> list[InboundFile]:
    return list(settle.fresh().scalars(select(InboundFile).order_by(InboundFile.id)))


def _lines(settle: Settle) -> int:
    return int(settle.fresh().scalar(select(func.count()).select_from(StatementLine)) or 0)


def test_a_file_without_its_marker_is_left_alone_until_the_bank_marks_it(settle: Settle) -> None:
    _marks_finished_files(settle)
    data = _three_lines(settle)
    half = data[: len(data) // 2]
    settle.server.put(f"out/{NAME}", half)  # the bank is still writing it

    outcomes = run_date(settle.nightly, DAY2, ("fetch", "statements"))
    assert [o.status for o in outcomes] == ["ran", "ran"]
    assert outcomes[0].summary["waiting"] == 1
    assert _files(settle) == []
    assert settle.server.files() == {f"out/{NAME}": half}  # not fetched, not moved
    assert not [op for op in settle.server.operations if op[0] == "fetch"]

    settle.server.put(f"out/{NAME}", data)  # written to the end, then marked
    settle.server.put(f"out/{NAME}.done", b"")
    run_date(settle.nightly, DAY3, ("fetch", "statements"))

    (stored,) = _files(settle)
    assert (stored.name, stored.status, stored.content) == (NAME, InboundStatus.APPLIED, data)
    assert _lines(settle) == 3
    # the file and its marker are put away together; nothing is left for a later night
    assert settle.server.files() == {
        f"out/processed/{NAME}": data,
        f"out/processed/{NAME}.done": b"",
    }


def test_a_marker_is_never_taken_for_a_file_even_where_a_pattern_matches_it(
    settle: Settle,
) -> None:
    _marks_finished_files(settle, statement_patterns=["STMT_*"])
    data = _three_lines(settle)
    settle.server.put(f"out/{NAME}", data)
    settle.server.put(f"out/{NAME}.done", b"")
    outcomes = run_date(settle.nightly, DAY2, ("fetch", "statements"))
    assert outcomes[0].summary == {"stored": 1, "seen_before": 0, "quarantined": 0}
    assert [(f.name, f.status) for f in _files(settle)] == [(NAME, InboundStatus.APPLIED)]


def test_a_marker_left_behind_by_a_crash_is_put_away_and_others_are_not_touched(
    settle: Settle,
) -> None:
    _marks_finished_files(settle)
    settle.server.put(f"out/processed/{NAME}", b"taken on an earlier night")
    settle.server.put(f"out/{NAME}.done", b"")  # its file is gone: a crash in between
    settle.server.put("out/README.txt", b"not ours")
    settle.server.put("out/README.txt.done", b"")
    settle.server.put("out/OTHER.txt.done", b"")  # no file of ours would carry this name
    run_date(settle.nightly, DAY2, ("fetch",))
    files = settle.server.files()
    assert f"out/{NAME}.done" not in files
    assert f"out/processed/{NAME}.done" in files
    assert {"out/README.txt", "out/README.txt.done", "out/OTHER.txt.done"} <= set(files)
    assert _files(settle) == []


class ClearsItsMarkers(MemoryTransport):
    """A bank removing a marker itself as soon as it sees the file taken (the sandbox does)."""

    def rename(self, source: str, target: str) -> None:
        super().rename(source, target)
        marker = source + ".done"
        if not source.endswith(".done") and marker in self.files():
            self.delete(marker)


def test_a_marker_the_bank_cleared_itself_is_no_error(settle: Settle) -> None:
    _marks_finished_files(settle)
    server = ClearsItsMarkers(settle.server.conventions, folders=["in", "out"])
    settle.nightly = settle.make_nightly(lambda profile: server)
    settle.server = settle.bank.server = server
    data = _three_lines(settle)
    server.put(f"out/{NAME}", data)
    server.put(f"out/{NAME}.done", b"")
    outcomes = run_date(settle.nightly, DAY2, ("fetch", "statements"))
    assert [o.status for o in outcomes] == ["ran", "ran"]
    assert server.files() == {f"out/processed/{NAME}": data}
    assert _lines(settle) == 3


def test_without_a_marker_rule_a_file_is_fetched_as_it_is(settle: Settle) -> None:
    assert settle.profile.config.sftp.inbound_marker_suffix is None
    data = _three_lines(settle)
    settle.server.put(f"out/{NAME}", data)
    settle.server.put("out/README.txt.done", b"")
    run_date(settle.nightly, DAY2, ("fetch", "statements"))
    assert [(f.name, f.status) for f in _files(settle)] == [(NAME, InboundStatus.APPLIED)]
    assert set(settle.server.files()) == {f"out/processed/{NAME}", "out/README.txt.done"}


# --- names longer than we keep -------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settle_on(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settle]:
    yield from settle_on_database(request, tmp_path)


def test_a_name_longer_than_we_keep_is_stored_cut_and_quarantined_and_blocks_nothing(
    settle_on: Settle,
) -> None:
    settle = settle_on
    long_name = "STMT_6200001_20240701_" + "x" * 230 + ".txt"  # sorts before the next one
    longest = "STMT_6200001_20240701_" + "y" * 400 + ".txt"  # its path does not fit either
    settle.bank.put_statement(statement(DAY1, [_entry("T1", 100)]), long_name)
    settle.bank.put_statement(statement(DAY1, [_entry("T3", 300)]), longest)
    later = settle.bank.put_statement(statement(DAY1, [_entry("T2", 200)]), "STMT_6200001_Z.txt")

    outcomes = run_date(settle.nightly, DAY2, ("fetch", "statements"))
    assert [o.status for o in outcomes] == ["ran", "ran"], outcomes
    assert outcomes[0].summary == {"stored": 1, "seen_before": 0, "quarantined": 2}

    cut, cut_both, normal = _files(settle)
    assert (normal.name, normal.status, normal.content) == (
        "STMT_6200001_Z.txt",
        InboundStatus.APPLIED,
        later,
    )
    assert cut.status is InboundStatus.QUARANTINED
    assert len(cut.name) == NAME_MAX
    assert cut.name.startswith(long_name[:150])
    assert cut.name.endswith(f"…[截断 cut from {len(long_name)}]")
    assert cut.remote_path == f"out/{long_name}"  # the path fits: kept whole
    assert "longer than the 200 we keep" in (cut.reason or "")
    assert len(cut_both.name) == NAME_MAX
    assert len(cut_both.remote_path) == REMOTE_PATH_MAX
    assert cut_both.remote_path.endswith(f"…[截断 cut from {len(longest) + 4}]")
    session = settle.fresh()
    items = session.scalars(
        select(FollowUpItem).where(FollowUpItem.inbound_file_id == cut.id)
    ).all()
    assert [i.kind for i in items] == [FollowUpKind.FILE_QUARANTINED]
    assert long_name in items[0].message_zh  # the name as the bank wrote it
    # put away on the server as any file is
    assert set(settle.server.files()) == {
        f"out/processed/{n}" for n in (long_name, longest, "STMT_6200001_Z.txt")
    }
    assert _lines(settle) == 1

    # Nothing was wrong with its content: the office puts it back and it applies, the name
    # as the bank wrote it kept in its summary.
    reapply_file(session, cut.id, actor="officer", note="文件名过长，内容已核对 content checked")
    session.commit()
    run_date(settle.nightly, DAY3, ("fetch", "statements"))
    session = settle.fresh()
    applied = session.get(InboundFile, cut.id)
    assert applied is not None
    assert applied.status is InboundStatus.APPLIED
    assert f'"full_name": "{long_name}"' in applied.summary_json
    assert '"new_lines": 1' in applied.summary_json
    assert _lines(settle) == 2
