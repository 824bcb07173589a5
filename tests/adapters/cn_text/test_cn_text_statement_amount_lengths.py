"""Statement amounts of any length are read or refused naming the line, never crash."""

from __future__ import annotations

import pytest

from adapters.cn_text import CnTextAdapter
from adapters.errors import FileFormatError
from benchmarks.bench_cn_text import BANKS, build_statement


def _with_amount(text: str) -> bytes:
    lines = build_statement(3).decode("gb18030").split("\r\n")
    fields = lines[-3].split("|")  # the last detail line
    fields[7] = text
    lines[-3] = "|".join(fields)
    return "\r\n".join(lines).encode("gb18030")


@pytest.mark.parametrize("digits", [24, 400, 5_000])
def test_an_amount_with_thousands_of_digits_is_refused_on_its_line(digits: int) -> None:
    adapter = CnTextAdapter.from_options({"layout": "layouts/rcb_pipe.toml"}, config_dir=BANKS)
    with pytest.raises(FileFormatError) as caught:
        adapter.parse_statements(_with_amount("9" * digits + ".00"))
    error = caught.value
    assert (error.location, error.field) == ("line 304", "amount")
    assert "too large" in error.reason or "exceeds the largest" in error.reason
