"""``huzhu files``: look inside bank files and write instruction files, without the rest.

``huzhu files inspect PATH`` prints what a bank file holds as JSON (amounts in fen). The
adapter is found by ``detect_kind`` unless ``--adapter``/``--layout``/``--bank`` name it;
a malformed file exits 2 with a one-line reason.

``huzhu files render --adapter NAME --kind disbursement|collection INSTRUCTIONS.json``
writes the instruction file a bank expects. The JSON input is one batch::

    {
      "message_id": "HZ20240502001",
      "special_account": "6230910100000012345",
      "special_account_name": "平邑县扶贫互助资金专户",
      "created_at": "2024-05-01T17:30:05+08:00",   # no offset: Beijing time
      "requested_date": "2024-05-02",
      "bank_code": "", "initiator_name": "", "creditor_scheme_id": null,  # optional
      "instructions": [
        {
          "end_to_end_id": "HZ20240502001E0001",
          "amount_fen": 150000,                     # an integer number of fen
          "debtor_account": "...", "debtor_name": "...",
          "creditor_account": "...", "creditor_name": "...",
          "requested_date": "2024-05-02",           # optional, defaults to the batch's
          "currency": "CNY", "remittance": "", "purpose": "",   # optional
          "mandate_id": null, "mandate_signed_on": null          # collections
        }
      ]
    }

For a disbursement the debtor is the association's sub-account and the creditor the
member's card; for a collection the other way round. Unknown keys are refused.

Which bank's format: ``--bank CODE`` reads ``[adapter]`` from ``config/banks/CODE.toml``;
``--layout PATH`` uses a cn_text layout file directly; ``--adapter NAME`` picks any
installed adapter.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import tomllib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from adapters.base import Adapter
from adapters.errors import AdapterError
from adapters.records import Batch, Direction, FileKind, PaymentInstruction
from adapters.registry import installed_adapters, load_adapter
from gateway.settings import default_config_dir

BEIJING = ZoneInfo("Asia/Shanghai")
HEAD_BYTES = 4096

files_app = typer.Typer(
    help="银行文件 bank files: inspect what a file holds, render instruction files.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(files_app, name="files")


class FilesCommandError(Exception):
    """A usage problem: printed as one line, exit code 2."""


# --- JSON in and out -------------------------------------------------------------------


class InstructionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    end_to_end_id: str = Field(min_length=1)
    amount_fen: StrictInt = Field(gt=0)
    debtor_account: str = Field(min_length=1)
    debtor_name: str = Field(min_length=1)
    creditor_account: str = Field(min_length=1)
    creditor_name: str = Field(min_length=1)
    requested_date: date | None = None
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    remittance: str = ""
    purpose: str = ""
    mandate_id: str | None = None
    mandate_signed_on: date | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    message_id: str = Field(min_length=1)
    special_account: str = Field(min_length=1)
    special_account_name: str = ""
    created_at: datetime
    requested_date: date
    bank_code: str = ""
    initiator_name: str = ""
    creditor_scheme_id: str | None = None
    instructions: list[InstructionIn]

    def to_batch(self, direction: Direction) -> Batch:
        created = self.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=BEIJING)
        return Batch(
            message_id=self.message_id,
            direction=direction,
            special_account=self.special_account,
            special_account_name=self.special_account_name,
            created_at=created,
            requested_date=self.requested_date,
            instructions=tuple(
                PaymentInstruction(
                    end_to_end_id=i.end_to_end_id,
                    amount_fen=i.amount_fen,
                    debtor_account=i.debtor_account,
                    debtor_name=i.debtor_name,
                    creditor_account=i.creditor_account,
                    creditor_name=i.creditor_name,
                    requested_date=i.requested_date or self.requested_date,
                    currency=i.currency,
                    remittance=i.remittance,
                    purpose=i.purpose,
                    mandate_id=i.mandate_id,
                    mandate_signed_on=i.mandate_signed_on,
                )
                for i in self.instructions
            ),
            bank_code=self.bank_code,
            initiator_name=self.initiator_name,
            creditor_scheme_id=self.creditor_scheme_id,
        )


def batch_from_json(raw: object, direction: Direction) -> Batch:
    """Validate the documented JSON shape and build the batch; errors name the key."""
    try:
        return BatchIn.model_validate(raw).to_batch(direction)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise FilesCommandError(f"instructions JSON: {where}: {first['msg']}{more}") from None


def to_json(value: object) -> Any:
    """Records as plain JSON values: amounts stay integer fen, dates ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Batch):
            out["control_count"] = value.control_count
            out["control_sum_fen"] = value.control_sum_fen
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    return value


# --- choosing the adapter --------------------------------------------------------------


def _bank_adapter(code: str, config_dir: Path) -> tuple[str, Adapter]:
    path = config_dir / "banks" / f"{code}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FilesCommandError(f"bank {code!r}: {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FilesCommandError(f"bank {code!r}: {path} cannot be read: {exc}") from None
    table = raw.get("adapter")
    if not isinstance(table, Mapping) or not isinstance(table.get("name"), str):
        raise FilesCommandError(f"bank {code!r}: {path} has no [adapter] table with a name")
    options = {k: v for k, v in table.items() if k != "name"}
    return f"{table['name']} (bank {code})", load_adapter(
        table["name"], options, config_dir=path.parent
    )


def _candidates(
    adapter: str | None, layout: Path | None, bank: str | None, config_dir: Path
) -> list[tuple[str, Adapter]]:
    if bank is not None:
        label, built = _bank_adapter(bank, config_dir)
        if adapter is not None and not label.startswith(f"{adapter} "):
            raise FilesCommandError(f"--adapter {adapter} contradicts bank {bank}'s {label}")
        return [(label, built)]
    if layout is not None:
        name = adapter or "cn_text"
        return [
            (
                f"{name} ({layout})",
                load_adapter(name, {"layout": str(layout.resolve())}, config_dir=Path.cwd()),
            )
        ]
    layouts = sorted((config_dir / "banks" / "layouts").glob("*.toml"))
    names = [adapter] if adapter is not None else sorted(installed_adapters())
    found: list[tuple[str, Adapter]] = []
    problems: list[str] = []
    for name in names:
        if name == "cn_text":
            if adapter is not None and not layouts:
                raise FilesCommandError("cn_text needs a layout: give --layout or --bank")
            for path in layouts:
                try:
                    built = load_adapter(name, {"layout": str(path)}, config_dir=config_dir)
                except AdapterError as exc:
                    problems.append(f"{name} ({path.name}): {exc}")
                    continue
                found.append((f"{name} ({path.name})", built))
            continue
        try:
            found.append((name, load_adapter(name, {}, config_dir=config_dir / "banks")))
        except AdapterError as exc:
            if adapter is not None:
                raise
            problems.append(f"{name}: {exc}")
    for problem in problems:
        typer.echo(f"warning: adapter not usable: {problem}", err=True)
    return found


def _parse(adapter: Adapter, kind: FileKind, data: bytes) -> object:
    if kind in (FileKind.DISBURSEMENT_BATCH, FileKind.COLLECTION_BATCH):
        return adapter.parse_instructions(data)
    if kind is FileKind.RESULT:
        return adapter.parse_result(data)
    return list(adapter.parse_statements(data))


def _fail(message: str) -> typer.Exit:
    typer.echo("error: " + " ".join(message.split()), err=True)
    return typer.Exit(2)


ConfigDirOption = Annotated[
    Path | None,
    typer.Option(
        "--config-dir",
        help="Configuration folder (default: $HUZHU_CONFIG_DIR or the bundled config/).",
    ),
]
AdapterOption = Annotated[
    str | None, typer.Option("--adapter", help="Installed adapter name, e.g. cn_text.")
]
LayoutOption = Annotated[Path | None, typer.Option("--layout", help="A cn_text layout TOML file.")]
BankOption = Annotated[
    str | None, typer.Option("--bank", help="Bank code: reads config/banks/CODE.toml [adapter].")
]


@files_app.command("inspect")
def inspect(
    path: Annotated[Path, typer.Argument(help="The bank file to look into.")],
    adapter: AdapterOption = None,
    layout: LayoutOption = None,
    bank: BankOption = None,
    kind: Annotated[
        FileKind | None, typer.Option("--kind", help="Skip detection: read the file as this.")
    ] = None,
    config_dir: ConfigDirOption = None,
) -> None:
    """Print what a bank file holds as JSON (amounts in fen); exit 2 if it is malformed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if not data.strip():  # no format recognises nothing: say what is wrong instead
        raise _fail(f"{path.name}: file is empty" + (" (only whitespace)" if data else ""))
    try:
        candidates = _candidates(adapter, layout, bank, config_dir or default_config_dir())
        chosen: tuple[str, Adapter, FileKind] | None = None
        for label, built in candidates:
            detected = kind or built.detect_kind(path.name, data[:HEAD_BYTES])
            if detected is not None:
                chosen = (label, built, detected)
                break
        if chosen is None:
            tried = ", ".join(label for label, _ in candidates) or "none"
            raise FilesCommandError(
                f"no adapter recognises this file (tried: {tried}); "
                "give --adapter with --layout/--bank, and --kind"
            )
        label, built, detected = chosen
        content = _parse(built, detected, data)
    except (AdapterError, FilesCommandError) as exc:
        raise _fail(f"{path.name}: {exc}") from None
    document = {
        "file": path.name,
        "adapter": label,
        "kind": detected.value,
        "content": to_json(content),
    }
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


class RenderKind(enum.StrEnum):
    DISBURSEMENT = "disbursement"
    COLLECTION = "collection"


@files_app.command("render")
def render(
    instructions: Annotated[Path, typer.Argument(help="Batch JSON (see `huzhu files --help`).")],
    kind: Annotated[
        RenderKind, typer.Option("--kind", help="disbursement (代发) or collection (代扣).")
    ],
    adapter: AdapterOption = None,
    layout: LayoutOption = None,
    bank: BankOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: standard output).")
    ] = None,
    config_dir: ConfigDirOption = None,
) -> None:
    """Write the instruction file for a batch given as JSON; exit 2 if it cannot be sent."""
    try:
        if adapter is None and layout is None and bank is None:
            raise FilesCommandError("say which format: --adapter, --layout or --bank")
        try:
            raw = json.loads(instructions.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FilesCommandError(
                f"{instructions}: cannot be read: {exc.strerror or exc}"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise FilesCommandError(f"{instructions}: not JSON: {exc}") from None
        batch = batch_from_json(raw, Direction(kind.value))
        candidates = _candidates(adapter, layout, bank, config_dir or default_config_dir())
        if len(candidates) != 1:
            raise FilesCommandError(
                f"{len(candidates)} layouts fit; give --layout or --bank to choose one"
            )
        data = candidates[0][1].render_batch(batch)
    except (AdapterError, FilesCommandError) as exc:
        raise _fail(str(exc)) from None
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    typer.echo(f"wrote {output} ({len(data)} bytes, {batch.control_count} instructions)", err=True)
