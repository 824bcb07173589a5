"""Helpers for the sandbox bank tests: configuration, accounts and files as a county sends them.

``JsonRecordsAdapter`` is a test double for the engine's adapter: the records as JSON, both
sides. Tests that show real bank formats use the built-in adapters instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Self

from pydantic import TypeAdapter, ValidationError

from adapters.base import Adapter, AdapterOptions
from adapters.errors import FileFormatError
from adapters.records import (
    Batch,
    Direction,
    FileKind,
    PaymentInstruction,
    ResultFile,
    Statement,
)
from adapters.sandbox.config import SandboxConfig, parse_config
from adapters.sandbox.engine import BankEngine
from adapters.sandbox.state import CardStatus

_BATCH = TypeAdapter(Batch)
_RESULT = TypeAdapter(ResultFile)
_STATEMENT = TypeAdapter(Statement)

INSTITUTION = "linyi"
SPECIAL = "94000100200300001"
SUB_A = "94000100200300001001"  # 东庄村互助协会
SUB_B = "94000100200300001002"  # 西河村互助协会
CARD_ZHANG = "6230910000000001"
CARD_LI = "6230910000000002"
CARD_WANG = "6230910000000003"
DAY1 = date(2025, 3, 3)


class JsonRecordsAdapter(Adapter):
    name = "test_json"

    @classmethod
    def from_options(cls, options: AdapterOptions, *, config_dir: Path) -> Self:
        return cls()

    def render_disbursement(self, batch: Batch) -> bytes:
        return _BATCH.dump_json(batch)

    def render_collection(self, batch: Batch) -> bytes:
        return _BATCH.dump_json(batch)

    def parse_result(self, data: bytes) -> ResultFile:
        return _RESULT.validate_json(data)

    def parse_statements(self, data: bytes) -> tuple[Statement, ...]:
        return (_STATEMENT.validate_json(data),)

    def detect_kind(self, file_name: str, head: bytes) -> FileKind | None:
        return None

    def parse_instructions(self, data: bytes) -> Batch:
        try:
            batch = _BATCH.validate_json(data)
        except ValidationError as exc:
            raise FileFormatError("not a batch", location="line 1", value=str(exc)[:60]) from exc
        if not batch.instructions:
            raise FileFormatError("empty batch", location="line 1", field="instructions")
        return batch

    def render_result(self, result: ResultFile, batch: Batch) -> bytes:
        return _RESULT.dump_json(result)

    def render_statement(self, statement: Statement) -> bytes:
        return _STATEMENT.dump_json(statement)


def raw_config(
    state_dir: Path,
    *,
    seed: int = 7,
    per_mille: Mapping[str, int] | None = None,
    scheduled: Sequence[Mapping[str, Any]] = (),
    refusals: Sequence[Mapping[str, Any]] = (),
    shortfall: str = "reject",
    client_keys: Sequence[str] = (),
    adapter: str = "test_json",
    adapter_options: Mapping[str, Any] | None = None,
    security: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "seed": seed,
        "server": {"host": "127.0.0.1", "port": 0, "state_dir": str(state_dir)},
        "clock": {"cutoff": datetime(2000, 1, 1, 16).time()},
        "institutions": [
            {
                "name": INSTITUTION,
                "display_name": "临沂市沂南县扶贫互助资金管理办公室",
                "special_account": SPECIAL,
                "special_account_name": "沂南县扶贫互助资金专户",
                "adapter": adapter,
                "adapter_options": dict(adapter_options or {}),
                "client_keys": list(client_keys),
                "collection_shortfall": shortfall,
                "security": dict(security or {}),
            }
        ],
        "faults": {
            "per_mille": dict(per_mille or {}),
            "scheduled": [dict(s) for s in scheduled],
            "sftp_refusals": [dict(r) for r in refusals],
        },
    }


def make_config(state_dir: Path, **kwargs: Any) -> SandboxConfig:
    return parse_config(raw_config(state_dir, **kwargs), config_dir=state_dir)


def seeded_engine(state_dir: Path, adapter: Adapter | None = None, **kwargs: Any) -> BankEngine:
    """A bank with two village sub-accounts and three member cards, funded on ``DAY1``."""
    engine = BankEngine(
        make_config(state_dir, **kwargs), {INSTITUTION: adapter or JsonRecordsAdapter()}
    )
    engine.open_sub_account(
        INSTITUTION, SUB_A, "东庄村扶贫互助协会", on=DAY1, initial_fen=5_000_000
    )
    engine.open_sub_account(
        INSTITUTION, SUB_B, "西河村扶贫互助协会", on=DAY1, initial_fen=3_000_000
    )
    engine.open_card(CARD_ZHANG, "张三", balance_fen=200_000)
    engine.open_card(CARD_LI, "李四", balance_fen=50_000)
    engine.open_card(CARD_WANG, "王五", balance_fen=0, status=CardStatus.ACTIVE)
    return engine


def batch(
    direction: Direction,
    lines: Sequence[tuple[str, int, str, str, str]],
    *,
    message_id: str = "HZ20250303001",
    on: date = DAY1,
) -> Batch:
    """``lines``: (end_to_end_id, amount_fen, sub_account, card, card holder's name)."""
    instructions = []
    for e2e, amount, sub, card, holder in lines:
        if direction is Direction.DISBURSEMENT:
            debtor, debtor_name, creditor, creditor_name = sub, "村协会", card, holder
        else:
            debtor, debtor_name, creditor, creditor_name = card, holder, sub, "村协会"
        instructions.append(
            PaymentInstruction(
                end_to_end_id=e2e,
                amount_fen=amount,
                debtor_account=debtor,
                debtor_name=debtor_name,
                creditor_account=creditor,
                creditor_name=creditor_name,
                requested_date=on,
                remittance=f"借款合同 HT-{e2e}",
            )
        )
    return Batch(
        message_id=message_id,
        direction=direction,
        special_account=SPECIAL,
        special_account_name="沂南县扶贫互助资金专户",
        created_at=datetime(on.year, on.month, on.day, 9, 0),
        requested_date=on,
        instructions=tuple(instructions),
    )


def submit(engine: BankEngine, name: str, data: bytes, *, marker: str = ".done") -> Path:
    """Deliver a file the way the institution's transport does: bytes, then the marker."""
    folder = engine.institution_root(INSTITUTION) / "in"
    (folder / name).write_bytes(data)
    (folder / (name + marker)).write_bytes(b"")
    return folder / name


def out_files(engine: BankEngine) -> list[str]:
    folder = engine.institution_root(INSTITUTION) / "out"
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def read_result(engine: BankEngine, name: str) -> ResultFile:
    return _RESULT.validate_json((engine.institution_root(INSTITUTION) / "out" / name).read_bytes())


def read_statement(engine: BankEngine, on: date) -> Statement | None:
    path = engine.institution_root(INSTITUTION) / "out" / f"STMT_{SPECIAL}_{on:%Y%m%d}.txt"
    if not path.exists():
        return None
    return _STATEMENT.validate_json(path.read_bytes())
