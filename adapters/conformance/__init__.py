"""The adapter conformance suite: what every adapter, ours or a bank's, must pass.

Use it from a test module as a base class and provide the ``adapter`` fixture::

    from adapters.conformance import AdapterConformance

    class TestMyBankConformance(AdapterConformance):
        max_amount_fen = 99_999_999_999
        file_names = {FileKind.DISBURSEMENT_BATCH: "DF_{message_id}.txt", ...}

        @pytest.fixture
        def adapter(self) -> Adapter:
            return MyBankAdapter.from_options({...}, config_dir=CONFIG)

The suite checks round trips through both sides (instruction files, result files,
statements), edge amounts (1 fen, 30,000.00 yuan, the largest the format allows), rare CJK
names (outside the BMP and in GB18030's four-byte range), refusal of empty batches,
duplicate end-to-end ids, out-of-range amounts and broken control totals, and that hostile
input (random, truncated or mutated bytes; XML bombs for XML formats) raises nothing but
``AdapterError``.

A format that does not carry some field narrows the ``*_fields`` tuples, which name the
record fields compared after a round trip; ``parties`` gives accounts and names in the shape
the format needs. Both are class-level so a bank's test reads as a declaration.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import Adapter
from adapters.errors import AdapterError, RenderError
from adapters.records import (
    Batch,
    Channel,
    CreditDebit,
    Direction,
    FileKind,
    InstructionResult,
    PaymentInstruction,
    ResultFile,
    ResultStatus,
    Statement,
    StatementEntry,
    SubAccountBalance,
)

BEIJING = ZoneInfo("Asia/Shanghai")

# Rare names: 𠮷 (U+20BB7, outside the BMP), 㐀 and 䶮 (CJK extension A, four bytes in
# GB18030), 𪚥 (extension B), 鿏 (a late BMP addition, four bytes in GB18030).
RARE_NAMES = ("吉𠮷", "㐀䶮", "𪚥龘", "王鿏", "欧阳𠀀")


@dataclasses.dataclass(frozen=True)
class Parties:
    """Accounts and names used by the suite's sample batches."""

    special_account: str = "6230910100000012345"
    special_account_name: str = "平邑县扶贫互助资金专户"
    sub_account: str = "62309101000000123450001"
    sub_account_name: str = "流峪镇东村扶贫互助协会"
    member_accounts: tuple[str, ...] = (
        "6217000010001234567",
        "6217000010007654321",
        "6217000010001112223",
    )
    member_names: tuple[str, ...] = ("张三", "李四", "王秀英")
    bank_code: str = "402473500016"


def _project(record: object, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(record, name) for name in fields}


class AdapterConformance:
    """Base class of an adapter's conformance tests; subclasses provide ``adapter``."""

    # The largest single amount the format allows, in fen.
    max_amount_fen: ClassVar[int] = 3_000_000
    # Whether the format is XML (adds entity-expansion and external-entity checks).
    is_xml: ClassVar[bool] = False
    # File names by kind, ``{message_id}`` filled in, for the detect_kind checks.
    file_names: ClassVar[Mapping[FileKind, str]] = {}
    parties: ClassVar[Parties] = Parties()

    batch_fields: ClassVar[tuple[str, ...]] = (
        "message_id",
        "direction",
        "special_account",
        "special_account_name",
        "created_at",
        "requested_date",
    )
    instruction_fields: ClassVar[tuple[str, ...]] = (
        "end_to_end_id",
        "amount_fen",
        "currency",
        "debtor_account",
        "debtor_name",
        "creditor_account",
        "creditor_name",
        "requested_date",
        "remittance",
    )
    collection_fields: ClassVar[tuple[str, ...]] = ("mandate_id", "mandate_signed_on")
    result_file_fields: ClassVar[tuple[str, ...]] = ("message_id", "original_message_id")
    result_fields: ClassVar[tuple[str, ...]] = (
        "end_to_end_id",
        "status",
        "settled_amount_fen",
        "reason_code",
    )
    statement_fields: ClassVar[tuple[str, ...]] = (
        "account",
        "currency",
        "opening_balance_fen",
        "closing_balance_fen",
        "sub_account_balances",
    )
    entry_fields: ClassVar[tuple[str, ...]] = (
        "booking_date",
        "amount_fen",
        "credit_debit",
        "currency",
        "bank_transaction_id",
        "channel",
        "reversal",
        "counterparty_account",
        "counterparty_name",
        "sub_account",
    )

    @pytest.fixture
    def adapter(self) -> Adapter:
        pytest.fail(f"{type(self).__name__} must define the 'adapter' fixture", pytrace=False)

    # --- sample records (override to fit a format) -------------------------------------

    def make_batch(
        self,
        direction: Direction,
        amounts: tuple[int, ...] = (12_345, 54_321, 100),
        names: tuple[str, ...] | None = None,
        message_id: str = "HZ20240502001",
    ) -> Batch:
        p = self.parties
        names = names or p.member_names
        requested = date(2024, 5, 2)
        items = []
        for i, amount in enumerate(amounts):
            card = p.member_accounts[i % len(p.member_accounts)]
            name = names[i % len(names)]
            own = (p.sub_account, p.sub_account_name)
            other = (card, name)
            debtor, creditor = (own, other) if direction is Direction.DISBURSEMENT else (other, own)
            collection = direction is Direction.COLLECTION
            items.append(
                PaymentInstruction(
                    end_to_end_id=f"{message_id}E{i + 1:04d}",
                    amount_fen=amount,
                    debtor_account=debtor[0],
                    debtor_name=debtor[1],
                    creditor_account=creditor[0],
                    creditor_name=creditor[1],
                    requested_date=requested,
                    remittance=("借款发放" if not collection else "还款") + f" {i + 1}",
                    purpose="LOAN" if not collection else "LOAR",
                    mandate_id=f"MD{i + 1:06d}" if collection else None,
                    mandate_signed_on=date(2023, 3, 1) if collection else None,
                )
            )
        return Batch(
            message_id=message_id,
            direction=direction,
            special_account=p.special_account,
            special_account_name=p.special_account_name,
            created_at=datetime(2024, 5, 1, 17, 30, 5, tzinfo=BEIJING),
            requested_date=requested,
            instructions=tuple(items),
            bank_code=p.bank_code,
            initiator_name=p.special_account_name,
            creditor_scheme_id="CN00ZZZ000000001" if direction is Direction.COLLECTION else None,
        )

    def make_result(self, batch: Batch) -> ResultFile:
        items = batch.instructions
        assert len(items) >= 3
        day = batch.requested_date
        return ResultFile(
            message_id=f"{batch.message_id}R",
            original_message_id=batch.message_id,
            created_at=datetime(2024, 5, 2, 18, 0, 0, tzinfo=BEIJING),
            results=(
                InstructionResult(
                    items[0].end_to_end_id, ResultStatus.SETTLED, items[0].amount_fen,
                    items[0].amount_fen, None, "", day,
                ),
                InstructionResult(
                    items[1].end_to_end_id, ResultStatus.REJECTED, 0,
                    items[1].amount_fen, "AC04", "已销户", None,
                ),
                InstructionResult(
                    items[2].end_to_end_id, ResultStatus.PARTIALLY_SETTLED,
                    items[2].amount_fen // 2, items[2].amount_fen,
                    "AM04", "余额不足，部分扣款", day,
                ),
            ),
        )  # fmt: skip

    def make_statement(self) -> Statement:
        p = self.parties
        day = date(2024, 5, 2)

        def entry(
            n: int, amount: int, cd: CreditDebit, channel: Channel, **kw: Any
        ) -> StatementEntry:
            return StatementEntry(
                booking_date=day,
                amount_fen=amount,
                credit_debit=cd,
                bank_transaction_id=f"BK2024050200{n:04d}",
                value_date=day,
                channel=channel,
                sub_account=p.sub_account,
                **kw,
            )

        entries = (
            entry(1, 1_000_000, CreditDebit.DEBIT, Channel.TRANSFER,
                  counterparty_account=p.member_accounts[0], counterparty_name=p.member_names[0]),
            entry(2, 1_000_600, CreditDebit.CREDIT, Channel.TRANSFER,
                  counterparty_account=p.member_accounts[1], counterparty_name="吉𠮷"),
            entry(3, 200, CreditDebit.DEBIT, Channel.FEE),
            entry(4, 50_000, CreditDebit.CREDIT, Channel.CASH,
                  counterparty_account=p.member_accounts[2], counterparty_name=p.member_names[2]),
            entry(5, 1_000_000, CreditDebit.CREDIT, Channel.TRANSFER, reversal=True,
                  counterparty_account=p.member_accounts[0], counterparty_name=p.member_names[0]),
        )  # fmt: skip
        opening = 5_000_000
        closing = opening + sum(e.signed_amount_fen for e in entries)
        return Statement(
            statement_id="ST20240502001",
            account=p.special_account,
            created_at=datetime(2024, 5, 3, 2, 0, 0, tzinfo=BEIJING),
            from_date=day,
            to_date=day,
            entries=entries,
            account_name=p.special_account_name,
            opening_balance_fen=opening,
            closing_balance_fen=closing,
            sub_account_balances=(SubAccountBalance(p.sub_account, opening, closing),),
        )

    def corrupt_control_sum(self, data: bytes, batch: Batch) -> bytes:
        """Change the declared control sum in a rendered instruction file.

        The default looks for the sum written as yuan (``1234.56``) or fen (``123456``) and
        changes its first occurrence; override for formats that write it differently.
        """
        fen = batch.control_sum_fen
        for text in (f"{fen // 100}.{fen % 100:02d}", str(fen)):
            raw = text.encode("ascii")
            if raw in data:
                wrong = f"{(fen + 1) // 100}.{(fen + 1) % 100:02d}" if "." in text else str(fen + 1)
                return data.replace(raw, wrong.encode("ascii"), 1)
        pytest.fail("the control sum is not in the file; override corrupt_control_sum")

    # --- helpers -------------------------------------------------------------------------

    def assert_batches_equal(self, got: Batch, want: Batch) -> None:
        assert _project(got, self.batch_fields) == _project(want, self.batch_fields)
        fields = self.instruction_fields
        if want.direction is Direction.COLLECTION:
            fields = fields + self.collection_fields
        assert [_project(i, fields) for i in got.instructions] == [
            _project(i, fields) for i in want.instructions
        ]

    def render(self, adapter: Adapter, batch: Batch) -> bytes:
        if batch.direction is Direction.DISBURSEMENT:
            return adapter.render_disbursement(batch)
        return adapter.render_collection(batch)

    def parsers(self, adapter: Adapter) -> list[Callable[[bytes], object]]:
        return [adapter.parse_instructions, adapter.parse_result, adapter.parse_statements]

    # --- round trips ---------------------------------------------------------------------

    @pytest.mark.parametrize("direction", list(Direction))
    def test_instruction_round_trip(self, adapter: Adapter, direction: Direction) -> None:
        batch = self.make_batch(direction)
        data = self.render(adapter, batch)
        assert adapter.render_batch(batch) == data
        parsed = adapter.parse_instructions(data)
        assert parsed.direction is direction
        self.assert_batches_equal(parsed, batch)
        assert parsed.control_count == batch.control_count
        assert parsed.control_sum_fen == batch.control_sum_fen

    def test_render_refuses_wrong_direction(self, adapter: Adapter) -> None:
        with pytest.raises(RenderError):
            adapter.render_collection(self.make_batch(Direction.DISBURSEMENT))
        with pytest.raises(RenderError):
            adapter.render_disbursement(self.make_batch(Direction.COLLECTION))

    @pytest.mark.parametrize("direction", list(Direction))
    def test_result_round_trip(self, adapter: Adapter, direction: Direction) -> None:
        batch = self.make_batch(direction)
        result = self.make_result(batch)
        parsed = adapter.parse_result(adapter.render_result(result, batch))
        assert _project(parsed, self.result_file_fields) == _project(
            result, self.result_file_fields
        )
        assert [_project(r, self.result_fields) for r in parsed.results] == [
            _project(r, self.result_fields) for r in result.results
        ]
        partial = [r for r in parsed.results if r.status is ResultStatus.PARTIALLY_SETTLED]
        assert partial
        assert all(0 < r.settled_amount_fen < batch.instructions[2].amount_fen for r in partial)

    def test_statement_round_trip(self, adapter: Adapter) -> None:
        statement = self.make_statement()
        parsed = adapter.parse_statements(adapter.render_statement(statement))
        assert len(parsed) == 1
        got = parsed[0]
        assert _project(got, self.statement_fields) == _project(statement, self.statement_fields)
        assert [_project(e, self.entry_fields) for e in got.entries] == [
            _project(e, self.entry_fields) for e in statement.entries
        ]

    def test_detect_kind_of_own_files(self, adapter: Adapter) -> None:
        if not self.file_names:
            pytest.skip("the adapter's test declares no file_names")
        batch = self.make_batch(Direction.DISBURSEMENT)
        collection = self.make_batch(Direction.COLLECTION)
        files = {
            FileKind.DISBURSEMENT_BATCH: adapter.render_disbursement(batch),
            FileKind.COLLECTION_BATCH: adapter.render_collection(collection),
            FileKind.RESULT: adapter.render_result(self.make_result(batch), batch),
            FileKind.STATEMENT: adapter.render_statement(self.make_statement()),
        }
        for kind, data in files.items():
            name = self.file_names.get(kind)
            if name is None:
                continue
            file_name = name.format(message_id=batch.message_id)
            assert adapter.detect_kind(file_name, data[:512]) is kind, (kind, file_name)
        assert adapter.detect_kind("readme.pdf", b"%PDF-1.7\n") is None

    # --- amounts and names ---------------------------------------------------------------

    @pytest.mark.parametrize("which", ["one_fen", "thirty_thousand_yuan", "largest"])
    @pytest.mark.parametrize("direction", list(Direction))
    def test_edge_amounts(self, adapter: Adapter, which: str, direction: Direction) -> None:
        amount = {"one_fen": 1, "thirty_thousand_yuan": 3_000_000, "largest": self.max_amount_fen}
        batch = self.make_batch(direction, amounts=(amount[which],))
        parsed = adapter.parse_instructions(self.render(adapter, batch))
        assert [i.amount_fen for i in parsed.instructions] == [amount[which]]
        assert parsed.control_sum_fen == amount[which]

    @pytest.mark.parametrize("amount", [0, -100, "above_max"])
    def test_out_of_range_amount_refused(self, adapter: Adapter, amount: int | str) -> None:
        value = self.max_amount_fen + 1 if amount == "above_max" else int(amount)
        batch = self.make_batch(Direction.DISBURSEMENT, amounts=(100, value))
        with pytest.raises(RenderError):
            adapter.render_disbursement(batch)

    @pytest.mark.parametrize("direction", list(Direction))
    def test_rare_cjk_names_survive(self, adapter: Adapter, direction: Direction) -> None:
        batch = self.make_batch(direction, amounts=(100, 200, 300, 400, 500), names=RARE_NAMES)
        parsed = adapter.parse_instructions(self.render(adapter, batch))
        side = "creditor_name" if direction is Direction.DISBURSEMENT else "debtor_name"
        assert [getattr(i, side) for i in parsed.instructions] == list(RARE_NAMES)

    # --- refusals ------------------------------------------------------------------------

    @pytest.mark.parametrize("direction", list(Direction))
    def test_empty_batch_refused(self, adapter: Adapter, direction: Direction) -> None:
        batch = dataclasses.replace(self.make_batch(direction), instructions=())
        with pytest.raises(RenderError):
            self.render(adapter, batch)

    @pytest.mark.parametrize("direction", list(Direction))
    def test_duplicate_end_to_end_ids_refused(self, adapter: Adapter, direction: Direction) -> None:
        batch = self.make_batch(direction)
        first = batch.instructions[0]
        twin = dataclasses.replace(batch.instructions[1], end_to_end_id=first.end_to_end_id)
        batch = dataclasses.replace(batch, instructions=(first, twin))
        with pytest.raises(RenderError):
            self.render(adapter, batch)

    def test_result_for_an_unknown_instruction_refused(self, adapter: Adapter) -> None:
        batch = self.make_batch(Direction.DISBURSEMENT)
        result = self.make_result(batch)
        stranger = dataclasses.replace(result.results[0], end_to_end_id="NOT-IN-THE-BATCH")
        with pytest.raises(RenderError):
            adapter.render_result(dataclasses.replace(result, results=(stranger,)), batch)

    def test_control_sum_mismatch_refused(self, adapter: Adapter) -> None:
        batch = self.make_batch(Direction.DISBURSEMENT)
        data = self.corrupt_control_sum(adapter.render_disbursement(batch), batch)
        with pytest.raises(AdapterError):
            adapter.parse_instructions(data)

    # --- hostile input -------------------------------------------------------------------

    def _only_adapter_errors(self, adapter: Adapter, data: bytes) -> None:
        for parse in self.parsers(adapter):
            with contextlib.suppress(AdapterError):
                parse(data)

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(data=st.binary(max_size=600))
    def test_random_bytes_raise_only_adapter_errors(self, adapter: Adapter, data: bytes) -> None:
        self._only_adapter_errors(adapter, data)

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(choice=st.data())
    def test_mutated_files_raise_only_adapter_errors(
        self, adapter: Adapter, choice: st.DataObject
    ) -> None:
        batch = self.make_batch(Direction.DISBURSEMENT)
        files = [
            adapter.render_disbursement(batch),
            adapter.render_result(self.make_result(batch), batch),
            adapter.render_statement(self.make_statement()),
        ]
        data = bytearray(choice.draw(st.sampled_from(files)))
        for _ in range(choice.draw(st.integers(1, 4))):
            at = choice.draw(st.integers(0, len(data) - 1))
            op = choice.draw(st.sampled_from(["flip", "drop", "insert"]))
            byte = choice.draw(st.integers(0, 255))
            if op == "flip":
                data[at] = byte
            elif op == "drop":
                del data[at]
            else:
                data.insert(at, byte)
        self._only_adapter_errors(adapter, bytes(data))

    def test_truncated_files_refused_or_unchanged(self, adapter: Adapter) -> None:
        batch = self.make_batch(Direction.DISBURSEMENT)
        cases: list[tuple[bytes, Callable[[bytes], object]]] = [
            (adapter.render_disbursement(batch), adapter.parse_instructions),
            (adapter.render_result(self.make_result(batch), batch), adapter.parse_result),
            (adapter.render_statement(self.make_statement()), adapter.parse_statements),
        ]
        for data, parse in cases:
            whole = parse(data)
            step = max(1, len(data) // 97)
            for cut in range(0, len(data), step):
                try:
                    got = parse(data[:cut])
                except AdapterError:
                    continue
                # Only trailing line breaks or whitespace may be cut without changing a thing.
                assert got == whole, f"a file cut at byte {cut} parsed as something else"

    @pytest.mark.parametrize("bomb", ["billion_laughs", "external_entity", "doctype"])
    def test_xml_bombs_refused(self, adapter: Adapter, bomb: str) -> None:
        if not self.is_xml:
            pytest.skip("not an XML format")
        documents = {
            "billion_laughs": (
                '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
                '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
                '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol4;</Document>'
            ),
            "external_entity": (
                '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">&x;</Document>'
            ),
            "doctype": (
                '<?xml version="1.0"?><!DOCTYPE Document SYSTEM "http://127.0.0.1:9/x.dtd">'
                '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"/>'
            ),
        }
        data = documents[bomb].encode()
        for parse in self.parsers(adapter):
            with pytest.raises(AdapterError):
                parse(data)
