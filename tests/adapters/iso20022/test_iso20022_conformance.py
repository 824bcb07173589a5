"""The shared conformance suite on the iso20022 adapter."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from adapters.base import Adapter
from adapters.conformance import AdapterConformance
from adapters.iso20022 import Iso20022Adapter
from adapters.records import FileKind


class TestIso20022Conformance(AdapterConformance):
    max_amount_fen = Iso20022Adapter.max_amount_fen
    is_xml = True
    file_names: ClassVar[Mapping[FileKind, str]] = {
        FileKind.DISBURSEMENT_BATCH: "pain001_{message_id}.xml",
        FileKind.COLLECTION_BATCH: "pain008_{message_id}.xml",
        FileKind.RESULT: "pain002_{message_id}.xml",
        FileKind.STATEMENT: "camt053_{message_id}.xml",
    }
    batch_fields = (*AdapterConformance.batch_fields, "bank_code", "initiator_name")
    instruction_fields = (*AdapterConformance.instruction_fields, "purpose")
    result_fields = (
        *AdapterConformance.result_fields,
        "requested_amount_fen",
        "reason_text",
        "booking_date",
    )
    entry_fields = (
        *AdapterConformance.entry_fields,
        "value_date",
        "remittance",
        "end_to_end_id",
        "references",
        "return_reason_code",
        "bank_transaction_code",
    )

    @pytest.fixture
    def adapter(self) -> Adapter:
        return Iso20022Adapter.from_options({}, config_dir=Path("."))
