"""Exact shares, rates and amounts, rendered with one fixed rounding rule (half up).

Nothing here touches a float: a share is a pair of integers, rendered by integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from adapters.money import format_yuan

NOT_APPLICABLE = "—"


def round_half_up(value: Fraction, places: int) -> str:
    """``value`` as decimal text with ``places`` decimals, rounded half away from zero."""
    scale = 10**places
    scaled = abs(value) * scale
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if rest * 2 >= scaled.denominator:
        whole += 1
    sign = "-" if value < 0 and whole else ""
    if places == 0:
        return f"{sign}{whole}"
    integer, decimals = divmod(whole, scale)
    return f"{sign}{integer}.{decimals:0{places}d}"


@dataclass(frozen=True)
class Ratio:
    """``numerator / denominator``, exact; undefined when the denominator is zero."""

    numerator: int
    denominator: int

    @property
    def value(self) -> Fraction | None:
        return Fraction(self.numerator, self.denominator) if self.denominator else None

    def percent(self, places: int = 2) -> str:
        """``"37.50"`` for 3/8; ``"—"`` when undefined."""
        value = self.value
        return NOT_APPLICABLE if value is None else round_half_up(value * 100, places)

    def decimal(self, places: int = 2) -> str:
        value = self.value
        return NOT_APPLICABLE if value is None else round_half_up(value, places)

    def at_least(self, threshold: Fraction) -> bool:
        value = self.value
        return value is not None and value >= threshold


@dataclass(frozen=True)
class CountAmount:
    """A number of items and their total amount in fen."""

    count: int = 0
    amount_fen: int = 0

    def plus(self, amount_fen: int) -> CountAmount:
        return CountAmount(self.count + 1, self.amount_fen + amount_fen)

    def __add__(self, other: CountAmount) -> CountAmount:
        return CountAmount(self.count + other.count, self.amount_fen + other.amount_fen)


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, exact: ``123456`` -> ``"1234.56"``."""
    return format_yuan(fen)


def permille(centipermille: int) -> str:
    """A monthly fee rate stored in hundredths of a per mille: ``650`` -> ``"6.50"``."""
    return round_half_up(Fraction(centipermille, 100), 2)
