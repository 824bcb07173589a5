"""Cursor (keyset) pagination for list endpoints.

A list is ordered by a tuple of columns ending in a unique one (the id); the cursor is the
sort key of the last item sent, opaque to the client (URL-safe base64 of JSON). A page never
skips or repeats rows when rows are added between requests, and its cost does not grow with
the page number.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from gateway.errors import ValidationFailed

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; null on the last page"
    )


@dataclass(frozen=True)
class PageRequest:
    cursor: str | None
    limit: int


async def page_request(
    cursor: Annotated[
        str | None, Query(max_length=512, description="opaque cursor from the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PageRequest:
    return PageRequest(cursor, limit)


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Integer sort keys are 64-bit in the database: a larger value is refused, never compared.
MIN_KEY, MAX_KEY = -(2**63), 2**63 - 1
MAX_TEXT_KEY = 400


def _invalid(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed(
        f"分页游标无效：{zh}", f"the cursor is not valid: {en}", code="invalid_cursor"
    )


def cursor_types(order: Sequence[Any]) -> list[type]:
    """What each value of a cursor over ``order`` must be: an integer for an integer column,
    else text (``encode_cursor`` writes any other value as its text)."""
    types: list[type] = []
    for column in order:
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = str
        types.append(int if issubclass(python_type, int) else str)
    return types


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    """The values of ``cursor``, each of its column's type, or ``invalid_cursor`` (422): a value
    of another type would be compared with the column by the database (PostgreSQL refuses
    text against an integer) and an integer beyond 64 bits cannot be bound at all."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _invalid("无法解码", "it cannot be decoded") from exc
    if not isinstance(values, list) or len(values) != len(types):
        raise _invalid(f"应含 {len(types)} 个值", f"it must hold {len(types)} value(s)")
    for position, (value, expected) in enumerate(zip(values, types, strict=True), start=1):
        if expected is int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise _invalid(
                    f"第 {position} 个值应为整数", f"value {position} must be an integer"
                )
            if not MIN_KEY <= value <= MAX_KEY:
                raise _invalid(f"第 {position} 个值超出范围", f"value {position} is out of range")
        elif not isinstance(value, str) or "\x00" in value or len(value) > MAX_TEXT_KEY:
            raise _invalid(f"第 {position} 个值应为文本", f"value {position} must be text")
    return values


def _after(columns: Sequence[Any], values: Sequence[Any], descending: bool) -> Any:
    """Rows strictly after ``values`` in the order of ``columns``: a row-value comparison,
    which PostgreSQL and SQLite turn into an index range on a matching composite index."""
    if len(columns) == 1:
        return columns[0] < values[0] if descending else columns[0] > values[0]
    left, right = tuple_(*columns), tuple_(*values)
    return left < right if descending else left > right


def paginate(
    session: Session,
    statement: Select[Any],
    *,
    order: Sequence[Any],
    key: Callable[[Any], Sequence[Any]],
    page: PageRequest,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``statement`` ordered by ``order``; ``key`` gives a row's cursor values."""
    if page.cursor:
        statement = statement.where(
            _after(order, decode_cursor(page.cursor, cursor_types(order)), descending)
        )
    ordering = [c.desc() if descending else c.asc() for c in order]
    rows = list(session.scalars(statement.order_by(*ordering).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, (encode_cursor(key(rows[-1])) if more and rows else None)


Paging = Annotated[PageRequest, Depends(page_request)]
