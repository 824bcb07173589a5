"""Exact conversion between yuan text and integer fen. No float ever holds money."""

from __future__ import annotations

import re

from adapters.errors import FileFormatError

_YUAN = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d+)(?:\.(?P<frac>\d{1,2}))?$")


def parse_yuan(text: str, *, field: str = "amount", location: str | None = None) -> int:
    """Parse a yuan amount such as ``"1234.5"`` or ``"1234.50"`` into fen.

    Refuses fractions of a fen, exponents, thousands separators and anything that is not a
    plain decimal number.
    """
    raw = text.strip()
    match = _YUAN.match(raw)
    if match is None:
        if re.match(r"^[+-]?\d+\.\d{3,}$", raw):
            raise FileFormatError(
                "amount has a fraction of a fen", location=location, field=field, value=text
            )
        raise FileFormatError("not a decimal amount", location=location, field=field, value=text)
    frac = (match.group("frac") or "").ljust(2, "0")
    fen = int(match.group("int")) * 100 + int(frac)
    return -fen if match.group("sign") == "-" else fen


def parse_decimal_minor(
    text: str, *, exponent: int = 2, field: str = "amount", location: str | None = None
) -> int:
    """Parse a decimal amount into minor units with ``exponent`` decimals (2 for CNY, EUR).

    Trailing zeros beyond the exponent are accepted (``"1.500"`` is 150); any non-zero digit
    beyond it is a fraction of a minor unit and refused.
    """
    raw = text.strip()
    match = re.match(r"^(?P<sign>[+-]?)(?P<int>\d+)(?:\.(?P<frac>\d+))?$", raw)
    if match is None:
        raise FileFormatError("not a decimal amount", location=location, field=field, value=text)
    frac = match.group("frac") or ""
    if len(frac) > exponent:
        if frac[exponent:].strip("0"):
            raise FileFormatError(
                "amount has a fraction of a minor unit", location=location, field=field, value=text
            )
        frac = frac[:exponent]
    units = int(match.group("int")) * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    return -units if match.group("sign") == "-" else units


def format_yuan(fen: int) -> str:
    """Format fen as yuan text with two decimals, exact: ``123456`` -> ``"1234.56"``."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def grouped_yuan(fen: int) -> str:
    """Fen as yuan with thousands separators, as people read amounts, exact: ``123456`` ->
    ``"1,234.56"``."""
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{part:02d}"
