"""Statements always add up, whatever the seeded faults do; the bank is reproducible and
restartable; a file is never booked twice."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.errors import RenderError
from adapters.records import Batch, Direction, ResultFile, ResultStatus, Statement
from adapters.sandbox import BankEngine, FaultKind
from adapters.sandbox.errors import AccountError
from tests.adapters.sandbox.sandbox_support import (
    CARD_LI,
    CARD_WANG,
    CARD_ZHANG,
    DAY1,
    INSTITUTION,
    SUB_A,
    SUB_B,
    JsonRecordsAdapter,
    batch,
    make_config,
    read_result,
    read_statement,
    seeded_engine,
    submit,
)

JSON = JsonRecordsAdapter()
CARDS = {CARD_ZHANG: "张三", CARD_LI: "李四", CARD_WANG: "王五"}
EVERY_FAULT = {kind.value: 150 for kind in FaultKind if kind is not FaultKind.SFTP_REFUSED}

payment = st.tuples(
    st.sampled_from([Direction.DISBURSEMENT, Direction.COLLECTION]),
    st.sampled_from([SUB_A, SUB_B]),
    st.sampled_from(sorted(CARDS)),
    st.integers(min_value=1, max_value=2_500_000),
)
day_of_payments = st.lists(payment, max_size=6)


def _run_days(
    engine: BankEngine, days: list[list[tuple[Direction, str, str, int]]]
) -> dict[date, Statement]:
    made: dict[date, Statement] = {}
    for offset, payments in enumerate(days):
        on = DAY1 + timedelta(days=offset)
        for direction in Direction:
            lines = [
                (f"{on:%m%d}{direction.value[0]}{n}", amount, sub, card, CARDS[card])
                for n, (d, sub, card, amount) in enumerate(payments)
                if d is direction
            ]
            if lines:
                data = JSON.render_batch(
                    batch(direction, lines, message_id=f"M{on:%m%d}{direction.value}", on=on)
                )
                submit(engine, f"{direction.value}_{on:%Y%m%d}.json", data)
        engine.run_cutoff(on)
        (statement,) = engine.end_of_day(on)
        made[on] = statement
    return made


def _assert_adds_up(statement: Statement, duplicated: list[str]) -> None:
    entries = list(statement.entries)
    for txn in duplicated:
        index = next(i for i, e in enumerate(entries) if e.bank_transaction_id == txn)
        del entries[index]
    assert len({e.bank_transaction_id for e in entries}) == len(entries)
    for sub in statement.sub_account_balances:
        moved = sum(e.signed_amount_fen for e in entries if e.sub_account == sub.sub_account)
        assert sub.opening_fen + moved == sub.closing_fen, sub
    assert statement.opening_balance_fen == sum(
        s.opening_fen for s in statement.sub_account_balances
    )
    assert statement.closing_balance_fen == sum(
        s.closing_fen for s in statement.sub_account_balances
    )
    assert statement.opening_balance_fen + sum(e.signed_amount_fen for e in entries) == (
        statement.closing_balance_fen
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(min_value=0, max_value=10**6),
    days=st.lists(day_of_payments, min_size=1, max_size=5),
    partial=st.booleans(),
)
def test_statements_add_up_per_sub_account_and_for_the_special_account(
    seed: int, days: list[list[tuple[Direction, str, str, int]]], partial: bool
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = seeded_engine(
            Path(folder),
            seed=seed,
            per_mille=EVERY_FAULT,
            shortfall="partial" if partial else "reject",
        )
        made = _run_days(engine, days)
        faults = engine.injected_faults()
        previous: Statement | None = None
        for on, statement in made.items():
            duplicated = [
                f.reference for f in faults if f.kind is FaultKind.DUPLICATE_LINE and f.date == on
            ]
            delivered = read_statement(engine, on)
            withheld = any(f.kind is FaultKind.NO_STATEMENT and f.date == on for f in faults)
            assert (delivered is None) == withheld
            if delivered is not None:
                _assert_adds_up(delivered, duplicated)
            _assert_adds_up(statement, duplicated)
            if previous is not None:
                assert statement.opening_balance_fen == previous.closing_balance_fen
            previous = statement
        assert all(engine.balance_fen(s) >= 0 for s in (SUB_A, SUB_B))


def test_the_same_seed_plays_the_same_faults(tmp_path: Path) -> None:
    days = [
        [(Direction.DISBURSEMENT, SUB_A, CARD_ZHANG, 100_000 * (n + 1)) for n in range(4)],
        [
            (Direction.COLLECTION, SUB_B, CARD_LI, 70_000),
            (Direction.COLLECTION, SUB_A, CARD_WANG, 9),
        ],
        [],
    ]
    runs = []
    for name in ("first", "second"):
        engine = seeded_engine(tmp_path / name, seed=99, per_mille=EVERY_FAULT)
        _run_days(engine, days)
        runs.append([f.model_dump() for f in engine.injected_faults()])
    assert runs[0] == runs[1]
    assert runs[0]  # at 150 per mille over these events something happens
    other = seeded_engine(tmp_path / "other", seed=100, per_mille=EVERY_FAULT)
    _run_days(other, days)
    assert [f.model_dump() for f in other.injected_faults()] != runs[0]


def test_a_restarted_bank_resumes_from_its_state_folder(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    data = JSON.render_batch(
        batch(
            Direction.DISBURSEMENT,
            [("E1", 250_000, SUB_A, CARD_ZHANG, "张三")],
            on=DAY1 + timedelta(days=1),
        )
    )
    submit(engine, "DF_001.json", data)
    engine.run_cutoff(DAY1)  # picked up, due tomorrow
    engine.end_of_day(DAY1)
    txn_before = engine.postings()[-1].txn_id
    del engine

    again = BankEngine(make_config(tmp_path), {INSTITUTION: JSON})
    assert again.closed_through == DAY1
    assert again.balance_fen(SUB_A) == 5_000_000
    assert again.balance_fen(CARD_ZHANG) == 200_000
    report = again.run_cutoff(DAY1 + timedelta(days=1))
    (line,) = read_result(again, report.result_files[0]).results
    assert line.status is ResultStatus.SETTLED
    assert again.balance_fen(SUB_A) == 4_750_000
    assert again.postings()[-1].txn_id > txn_before
    (statement,) = again.end_of_day(DAY1 + timedelta(days=1))
    assert statement.opening_balance_fen == 8_000_000


def test_a_file_is_never_booked_twice(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    data = JSON.render_batch(
        batch(Direction.DISBURSEMENT, [("E1", 100_000, SUB_A, CARD_ZHANG, "张三")])
    )
    submit(engine, "DF_001.json", data)
    first = engine.run_cutoff(DAY1)
    # the same file left in place, the same bytes under another name, another file
    # under the same name: none of them moves money again
    assert engine.run_cutoff(DAY1).result_files == ()
    submit(engine, "DF_001_copy.json", data)
    other = JSON.render_batch(
        batch(Direction.DISBURSEMENT, [("E9", 5_000, SUB_A, CARD_LI, "李四")], message_id="M2")
    )
    restarted = BankEngine(make_config(tmp_path), {INSTITUTION: JSON})
    report = restarted.run_cutoff(DAY1)
    submit(restarted, "DF_001.json", other)
    report2 = restarted.run_cutoff(DAY1)
    assert report.duplicate_files == ("DF_001_copy.json",)
    assert report2.duplicate_files == ("DF_001.json",)
    for name in (*report.result_files, *report2.result_files):
        assert {r.reason_code for r in read_result(restarted, name).results} == {"AM05"}
    assert len(set((*first.result_files, *report.result_files, *report2.result_files))) == 3
    assert restarted.balance_fen(SUB_A) == 4_900_000
    assert [p.end_to_end_id for p in restarted.postings() if p.end_to_end_id] == ["E1"]


class _FlakyAdapter(JsonRecordsAdapter):
    """Fails to render the result of one batch until told otherwise."""

    failing = True

    def render_result(self, result: ResultFile, batch: Batch) -> bytes:
        if self.failing and batch.message_id == "M2":
            raise RenderError("amount column too narrow")
        return super().render_result(result, batch)


def test_a_cutoff_failing_half_way_leaves_the_bank_as_it_was(tmp_path: Path) -> None:
    adapter = _FlakyAdapter()
    engine = seeded_engine(tmp_path, adapter)
    for name, message_id, e2e in (("DF_1.json", "M1", "E1"), ("DF_2.json", "M2", "E2")):
        data = adapter.render_batch(
            batch(
                Direction.DISBURSEMENT,
                [(e2e, 100_000, SUB_A, CARD_ZHANG, "张三")],
                message_id=message_id,
            )
        )
        submit(engine, name, data)
    with pytest.raises(RenderError):
        engine.run_cutoff(DAY1)
    assert engine.balance_fen(SUB_A) == 5_000_000
    assert engine.received_files() == ()
    adapter.failing = False
    report = engine.run_cutoff(DAY1)
    assert len(report.result_files) == 2
    assert engine.balance_fen(SUB_A) == 4_800_000
    out = sorted(p.name for p in (tmp_path / "sftp" / INSTITUTION / "out").glob("RESULT_*.txt"))
    assert out == ["RESULT_M1.txt", "RESULT_M2.txt"]  # the first attempt's file reused


def test_accounts_opened_in_bulk_are_saved_together_or_not_at_all(tmp_path: Path) -> None:
    engine = seeded_engine(tmp_path)
    with engine.bulk():
        for n in range(300):
            engine.open_card(f"62309200{n:08d}", f"会员{n}", balance_fen=1_000)

    def open_two() -> None:
        with engine.bulk():
            engine.open_card("6230930000000001", "赵六")
            engine.open_card(CARD_ZHANG, "张三")  # a number the bank has already

    with pytest.raises(AccountError, match="exists already"):
        open_two()
    restarted = BankEngine(make_config(tmp_path), {INSTITUTION: JSON})
    assert restarted.balance_fen("6230920000000299") == 1_000
    with pytest.raises(AccountError, match="no card"):
        restarted.card("6230930000000001")
    with pytest.raises(AccountError, match="no card"):
        engine.card("6230930000000001")
