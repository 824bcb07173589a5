"""A file in the bank's folder that none of the bank's name patterns names (a result file under
the name its layout gives, where the bank's patterns expect another) is not silently passed by:
fetch leaves it on the server and the night's summary names it. The shipped bank configurations
fetch every result and statement name their layouts give."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.bankconfig import load_bank_configs
from adapters.cn_text.layout import load_layout
from gateway.jobs.pipeline import run_date
from tests.settle_support import DAY1, REPO, Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def test_a_file_no_pattern_names_is_left_and_named_in_the_summary(settle: Settle) -> None:
    settle.server.put("out/HP_TBANK20240701001.txt", b"H|...")

    (fetched,) = run_date(settle.nightly, DAY1, ("fetch",))

    assert fetched.status == "ran", fetched.error
    assert fetched.summary["stored"] == 0
    assert fetched.summary["unrecognised"] == ["HP_TBANK20240701001.txt"]
    assert "out/HP_TBANK20240701001.txt" in settle.server.files()


@pytest.mark.parametrize("kind", ["result", "statement"])
def test_the_shipped_banks_fetch_every_name_their_layouts_give(kind: str) -> None:
    banks = load_bank_configs(REPO / "config" / "banks", root=REPO)
    checked = 0
    for bank in banks.values():
        if bank.adapter.name != "cn_text":
            continue
        layout = load_layout(bank.config_dir / str(bank.adapter.options["layout"]))
        patterns = bank.files.result_patterns if kind == "result" else bank.files.statement_patterns
        example = layout.files[kind].file_name.format(message_id="X20240701001", account="1")
        assert any(fnmatch.fnmatchcase(example, p) for p in patterns), (bank.code, example)
        checked += 1
    assert checked >= 1
