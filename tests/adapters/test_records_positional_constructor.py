"""The fast positional constructor builds exactly the records the dataclass __init__ builds."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from datetime import date

import pytest

from adapters.records import (
    Channel,
    CreditDebit,
    StatementEntry,
    SubAccountBalance,
    positional_constructor,
)

DAY = date(2024, 5, 1)
VALUES = (
    DAY,
    12_345,
    CreditDebit.DEBIT,
    "CNY",
    "BK202405000001",
    date(2024, 5, 2),
    True,
    Channel.CASH,
    "现金存款",
    "6217000010000000001",
    "吉𠮷",
    "HZE000000001",
    (("InstrId", "I-1"),),
    "第3期",
    "62309101000000123450001",
    "AC04",
    99_000,
)


def test_every_field_given_equals_the_dataclass_constructor() -> None:
    build = positional_constructor(StatementEntry)
    fast, slow = build(*VALUES), StatementEntry(*VALUES)
    assert type(fast) is StatementEntry
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert dataclasses.asdict(fast) == dataclasses.asdict(slow)
    assert dataclasses.replace(fast, amount_fen=1) == dataclasses.replace(slow, amount_fen=1)
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert fast.signed_amount_fen == -12_345


def test_fields_left_out_take_their_defaults() -> None:
    build = positional_constructor(StatementEntry)
    assert build(DAY, 5, CreditDebit.CREDIT) == StatementEntry(DAY, 5, CreditDebit.CREDIT)
    assert build(DAY, 5, CreditDebit.CREDIT).channel is Channel.TRANSFER


def test_the_record_stays_frozen() -> None:
    entry = positional_constructor(StatementEntry)(*VALUES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.amount_fen = 1  # type: ignore[misc]


def test_missing_or_surplus_values_are_refused_like_the_dataclass() -> None:
    build = positional_constructor(SubAccountBalance)
    with pytest.raises(TypeError):
        build("62309101000000123450001", 1)
    with pytest.raises(TypeError):
        build("62309101000000123450001", 1, 2, 3)


@dataclass(frozen=True, slots=True)
class _Tagged:
    name: str
    tags: list[str] = field(default_factory=list)


def test_default_factories_give_each_record_its_own_value() -> None:
    build = positional_constructor(_Tagged)
    first, second = build("a"), build("b")
    assert first == _Tagged("a")
    assert first.tags == []
    assert first.tags is not second.tags
    assert build("c", ["x"]).tags == ["x"]


@dataclass(frozen=True, slots=True)
class _Checked:
    amount_fen: int

    def __post_init__(self) -> None:
        if self.amount_fen <= 0:
            raise ValueError("amount must be positive")


@dataclass(frozen=True)
class _Unslotted:
    name: str


def test_records_whose_construction_does_more_are_refused() -> None:
    with pytest.raises(TypeError, match="own __init__"):
        positional_constructor(_Checked)
    with pytest.raises(TypeError, match="not a slotted record"):
        positional_constructor(_Unslotted)


def test_a_caller_whose_field_order_no_longer_holds_is_refused() -> None:
    build = positional_constructor(StatementEntry, expected_order=("booking_date", "amount_fen"))
    assert build(DAY, 1, CreditDebit.CREDIT) == StatementEntry(DAY, 1, CreditDebit.CREDIT)
    with pytest.raises(TypeError, match="changed its field order"):
        positional_constructor(StatementEntry, expected_order=("amount_fen", "booking_date"))
