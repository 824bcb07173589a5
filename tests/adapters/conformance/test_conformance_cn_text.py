"""The conformance suite on the built-in cn_text adapter with the shipped layouts."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from adapters.base import Adapter
from adapters.cn_text import CnTextAdapter
from adapters.conformance import AdapterConformance
from adapters.records import FileKind

BANKS = Path(__file__).resolve().parents[3] / "config" / "banks"


class TestRcbPipeConformance(AdapterConformance):
    max_amount_fen = 999_999_999_999_999
    file_names: ClassVar[Mapping[FileKind, str]] = {
        FileKind.DISBURSEMENT_BATCH: "DF_{message_id}.txt",
        FileKind.COLLECTION_BATCH: "DK_{message_id}.txt",
        FileKind.RESULT: "HP_{message_id}.txt",
        FileKind.STATEMENT: "DZ_{message_id}.txt",
    }
    instruction_fields = (*AdapterConformance.instruction_fields, "purpose")
    result_fields = (*AdapterConformance.result_fields, "reason_text", "booking_date")
    entry_fields = (
        *AdapterConformance.entry_fields,
        "value_date",
        "balance_after_fen",
        "remittance",
        "end_to_end_id",
    )

    @pytest.fixture
    def adapter(self) -> Adapter:
        return CnTextAdapter.from_options({"layout": "layouts/rcb_pipe.toml"}, config_dir=BANKS)


class TestRccFixedConformance(TestRcbPipeConformance):
    file_names: ClassVar[Mapping[FileKind, str]] = {
        FileKind.DISBURSEMENT_BATCH: "PLDF{message_id}.DAT",
        FileKind.COLLECTION_BATCH: "PLDK{message_id}.DAT",
        FileKind.RESULT: "PLHP{message_id}.DAT",
        FileKind.STATEMENT: "DZD{message_id}.DAT",
    }

    @pytest.fixture
    def adapter(self) -> Adapter:
        return CnTextAdapter.from_options({"layout": "layouts/rcc_fixed.toml"}, config_dir=BANKS)
