"""``config/sandbox.toml``: where the sandbox bank listens, whom it serves, what it gets wrong."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path

from adapters.sandbox.errors import SandboxConfigError
from adapters.sandbox.faults import FaultKind, FaultPlan, RefusalWindow, ScheduledFault


class ShortfallPolicy(StrEnum):
    """What the bank does when a card cannot cover a collection."""

    REJECT = "reject"  # AM04 余额不足
    PARTIAL = "partial"  # debit what is there, 部分扣款


@dataclass(frozen=True, slots=True)
class InstitutionSecurity:
    """How files between one institution and the bank are protected, seen from the bank.

    The bank's own keys live in ``<state_dir>/keys`` and are generated when missing.
    """

    verify: str | None = None  # the institution signs its files: ed25519 | rsa-pss-sha256
    verify_key_path: Path | None = None  # the institution's public signing key
    decrypt: bool = False  # the institution encrypts to the bank's RSA key
    sign: str | None = None  # the bank signs what it sends: ed25519 | rsa-pss-sha256
    encrypt_key_path: Path | None = None  # the institution's RSA public key to encrypt to

    @property
    def active(self) -> bool:
        return bool(self.verify or self.decrypt or self.sign or self.encrypt_key_path)


@dataclass(frozen=True, slots=True)
class InstitutionConfig:
    """One institution (a county fund office) holding one special account at the bank."""

    name: str  # SFTP user name and folder name
    display_name: str
    special_account: str
    special_account_name: str
    adapter: str
    adapter_options: Mapping[str, object]
    adapter_config_dir: Path  # where the adapter's relative paths (a layout) resolve
    client_keys: tuple[Path, ...]
    marker_suffixes: tuple[str, ...] = (".done", ".ok")
    result_name: str = "RESULT_{message_id}.txt"
    statement_name: str = "STMT_{account}_{date:%Y%m%d}.txt"
    out_marker: str | None = ".done"
    shortfall: ShortfallPolicy = ShortfallPolicy.REJECT
    security: InstitutionSecurity = InstitutionSecurity()


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    host: str
    port: int
    state_dir: Path
    institutions: tuple[InstitutionConfig, ...]
    faults: FaultPlan
    cutoff: time = time(16, 0)
    statement_time: time = time(20, 0)
    clock_start: datetime | None = None
    clock_speed: int = 1
    config_dir: Path = Path()

    def institution(self, name: str) -> InstitutionConfig:
        for inst in self.institutions:
            if inst.name == name:
                return inst
        raise SandboxConfigError("no such institution", key="institutions.name", value=name)


def load_config(path: Path) -> SandboxConfig:
    """Read and check a sandbox TOML file; relative paths resolve against its folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SandboxConfigError("file not found", value=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SandboxConfigError(f"not valid TOML: {exc}", value=str(path)) from exc
    return parse_config(raw, config_dir=path.resolve().parent)


def parse_config(raw: Mapping[str, object], *, config_dir: Path) -> SandboxConfig:
    server = _table(raw, "server")
    clock = _table(raw, "clock")
    faults = _table(raw, "faults")
    institutions = tuple(
        _institution(item, i, config_dir) for i, item in enumerate(_list(raw, "institutions"))
    )
    if not institutions:
        raise SandboxConfigError("at least one institution is needed", key="institutions")
    names = [i.name for i in institutions]
    if len(set(names)) != len(names):
        raise SandboxConfigError("institution names repeat", key="institutions.name", value=names)
    start = clock.get("start")
    if start is not None and not isinstance(start, datetime):
        raise SandboxConfigError("must be a TOML date-time", key="clock.start", value=start)
    plan = FaultPlan(
        seed=_int(raw, "seed", 0),
        per_mille=_per_mille(_table(faults, "per_mille")),
        scheduled=tuple(
            _scheduled(item, i, names) for i, item in enumerate(_list(faults, "scheduled"))
        ),
        refusals=tuple(_refusal(item, i) for i, item in enumerate(_list(faults, "sftp_refusals"))),
        return_after_days=_int(faults, "return_after_days", 3, key="faults.return_after_days"),
        random_amount_max_fen=_int(
            faults, "random_amount_max_fen", 500_000, key="faults.random_amount_max_fen"
        ),
    )
    port = _int(server, "port", 0, key="server.port")
    if not 0 <= port <= 65535:
        raise SandboxConfigError("not a TCP port", key="server.port", value=port)
    return SandboxConfig(
        host=_str(server, "host", "127.0.0.1", key="server.host"),
        port=port,
        state_dir=_path(
            config_dir, _str(server, "state_dir", "var/sandbox", key="server.state_dir")
        ),
        institutions=institutions,
        faults=plan,
        cutoff=_time(clock, "cutoff", time(16, 0)),
        statement_time=_time(clock, "statement_time", time(20, 0)),
        clock_start=start,
        clock_speed=_int(clock, "speed", 1, key="clock.speed"),
        config_dir=config_dir,
    )


def _institution(item: object, index: int, config_dir: Path) -> InstitutionConfig:
    key = f"institutions[{index}]"
    if not isinstance(item, Mapping):
        raise SandboxConfigError("must be a table", key=key, value=item)
    name = _str(item, "name", None, key=f"{key}.name")
    if not name.isidentifier() and not name.replace("-", "_").isidentifier():
        raise SandboxConfigError(
            "must be letters, digits, '_' or '-' (it is a user and folder name)",
            key=f"{key}.name",
            value=name,
        )
    options: Mapping[str, object] = {}
    adapter_dir = config_dir
    bank_config = item.get("bank_config")
    if bank_config is not None:
        bank_path = _path(config_dir, str(bank_config))
        options = _bank_adapter_options(bank_path, f"{key}.bank_config")
        adapter_dir = bank_path.parent
    inline = item.get("adapter_options")
    if inline is not None:
        if not isinstance(inline, Mapping):
            raise SandboxConfigError("must be a table", key=f"{key}.adapter_options")
        options = {**options, **inline}
    adapter = item.get("adapter") or options.get("name")
    if not isinstance(adapter, str) or not adapter:
        raise SandboxConfigError(
            "name the adapter (adapter = ...) or a bank_config with [adapter] name",
            key=f"{key}.adapter",
        )
    keys = item.get("client_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise SandboxConfigError("must be a list of paths", key=f"{key}.client_keys", value=keys)
    markers = item.get("marker_suffixes", [".done", ".ok"])
    if not isinstance(markers, list) or not all(isinstance(m, str) and m for m in markers):
        raise SandboxConfigError(
            "must be a list of suffixes", key=f"{key}.marker_suffixes", value=markers
        )
    out_marker = item.get("out_marker", ".done")
    if out_marker is not None and not isinstance(out_marker, str):
        raise SandboxConfigError("must be a suffix or absent", key=f"{key}.out_marker")
    shortfall = _str(item, "collection_shortfall", "reject", key=f"{key}.collection_shortfall")
    try:
        policy = ShortfallPolicy(shortfall)
    except ValueError as exc:
        raise SandboxConfigError(
            "must be 'reject' or 'partial'", key=f"{key}.collection_shortfall", value=shortfall
        ) from exc
    return InstitutionConfig(
        name=name,
        display_name=_str(item, "display_name", name, key=f"{key}.display_name"),
        special_account=_str(item, "special_account", None, key=f"{key}.special_account"),
        special_account_name=_str(
            item, "special_account_name", name, key=f"{key}.special_account_name"
        ),
        adapter=adapter,
        adapter_options=options,
        adapter_config_dir=adapter_dir,
        client_keys=tuple(_path(config_dir, k) for k in keys),
        marker_suffixes=tuple(markers),
        result_name=_str(item, "result_name", "RESULT_{message_id}.txt", key=f"{key}.result_name"),
        statement_name=_str(
            item,
            "statement_name",
            "STMT_{account}_{date:%Y%m%d}.txt",
            key=f"{key}.statement_name",
        ),
        out_marker=out_marker or None,
        shortfall=policy,
        security=_security(item.get("security", {}), f"{key}.security", config_dir),
    )


_SIGN_ALGORITHMS = ("ed25519", "rsa-pss-sha256")


def _security(raw: object, key: str, config_dir: Path) -> InstitutionSecurity:
    if not isinstance(raw, Mapping):
        raise SandboxConfigError("must be a table", key=key, value=raw)
    unknown = set(raw) - {"verify", "verify_key_path", "decrypt", "sign", "encrypt_key_path"}
    if unknown:
        raise SandboxConfigError("unknown key(s)", key=key, value=sorted(unknown))
    algorithms: dict[str, str | None] = {}
    for name in ("verify", "sign"):
        value = raw.get(name, "none")
        if value not in (*_SIGN_ALGORITHMS, "none"):
            raise SandboxConfigError(
                f"must be one of none, {', '.join(_SIGN_ALGORITHMS)}",
                key=f"{key}.{name}",
                value=value,
            )
        algorithms[name] = None if value == "none" else str(value)
    decrypt = raw.get("decrypt", False)
    if not isinstance(decrypt, bool):
        raise SandboxConfigError("must be true or false", key=f"{key}.decrypt", value=decrypt)
    verify_key = _opt_str(raw, "verify_key_path", key)
    encrypt_key = _opt_str(raw, "encrypt_key_path", key)
    if algorithms["verify"] and not verify_key:
        raise SandboxConfigError("verify needs verify_key_path", key=f"{key}.verify_key_path")
    return InstitutionSecurity(
        verify=algorithms["verify"],
        verify_key_path=_path(config_dir, verify_key) if verify_key else None,
        decrypt=decrypt,
        sign=algorithms["sign"],
        encrypt_key_path=_path(config_dir, encrypt_key) if encrypt_key else None,
    )


def _bank_adapter_options(path: Path, key: str) -> Mapping[str, object]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SandboxConfigError("bank config not found", key=key, value=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SandboxConfigError(f"bank config is not valid TOML: {exc}", key=key) from exc
    table = raw.get("adapter", {})
    if not isinstance(table, Mapping):
        raise SandboxConfigError("[adapter] must be a table", key=key, value=str(path))
    return dict(table)


def _scheduled(item: object, index: int, institutions: list[str]) -> ScheduledFault:
    key = f"faults.scheduled[{index}]"
    if not isinstance(item, Mapping):
        raise SandboxConfigError("must be a table", key=key, value=item)
    kind_text = _str(item, "kind", None, key=f"{key}.kind")
    try:
        kind = FaultKind(kind_text)
    except ValueError as exc:
        allowed = ", ".join(k.value for k in FaultKind if k is not FaultKind.SFTP_REFUSED)
        raise SandboxConfigError(
            f"unknown fault kind (one of {allowed})", key=f"{key}.kind", value=kind_text
        ) from exc
    if kind is FaultKind.SFTP_REFUSED:
        raise SandboxConfigError(
            "SFTP refusals go in [[faults.sftp_refusals]]", key=f"{key}.kind", value=kind_text
        )
    on = item.get("date")
    if on is not None and (not isinstance(on, date) or isinstance(on, datetime)):
        raise SandboxConfigError("must be a TOML date", key=f"{key}.date", value=on)
    institution = item.get("institution")
    if institution is not None and institution not in institutions:
        raise SandboxConfigError("no such institution", key=f"{key}.institution", value=institution)
    amount = item.get("amount_fen")
    if amount is not None and (
        not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0
    ):
        raise SandboxConfigError(
            "must be a positive integer number of fen", key=f"{key}.amount_fen", value=amount
        )
    fault = ScheduledFault(
        kind=kind,
        on=on,
        institution=_opt_str(item, "institution", key),
        sub_account=_opt_str(item, "sub_account", key),
        card=_opt_str(item, "card", key),
        amount_fen=amount,
        end_to_end_id=_opt_str(item, "end_to_end_id", key),
        reference=_opt_str(item, "reference", key) or "",
        counterparty_account=_opt_str(item, "counterparty_account", key),
        counterparty_name=_opt_str(item, "counterparty_name", key),
        reason_code=_opt_str(item, "reason_code", key),
        after_days=_int(item, "after_days", 0, key=f"{key}.after_days") or None,
    )
    _check_scheduled(fault, key)
    return fault


def _check_scheduled(fault: ScheduledFault, key: str) -> None:
    needs: dict[FaultKind, tuple[str, ...]] = {
        FaultKind.CASH_WITHDRAWAL: ("on", "sub_account", "amount_fen"),
        FaultKind.CASH_DEPOSIT: ("on", "sub_account", "amount_fen"),
        FaultKind.UNEXPECTED_CREDIT: ("on", "sub_account", "amount_fen"),
        FaultKind.TRANSFER_REPAYMENT: ("on", "sub_account", "card", "amount_fen", "reference"),
        FaultKind.NO_STATEMENT: ("on",),
        FaultKind.DUPLICATE_LINE: ("on",),
    }
    for attr in needs.get(fault.kind, ()):
        if getattr(fault, attr) is None or getattr(fault, attr) == "":
            name = "date" if attr == "on" else attr
            raise SandboxConfigError(f"{fault.kind.value} needs {name}", key=f"{key}.{name}")
    if (
        fault.kind in (FaultKind.CLOSED_CARD, FaultKind.FROZEN_CARD, FaultKind.NAME_MISMATCH)
        and fault.card is None
        and fault.end_to_end_id is None
    ):
        raise SandboxConfigError(f"{fault.kind.value} needs card or end_to_end_id", key=key)


def _refusal(item: object, index: int) -> RefusalWindow:
    key = f"faults.sftp_refusals[{index}]"
    if not isinstance(item, Mapping):
        raise SandboxConfigError("must be a table", key=key, value=item)
    start, end = item.get("from"), item.get("until")
    count = item.get("count")
    if count is not None:
        if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
            raise SandboxConfigError("must be a positive integer", key=f"{key}.count", value=count)
        return RefusalWindow(count=count)
    if not isinstance(start, datetime) or not isinstance(end, datetime) or end <= start:
        raise SandboxConfigError(
            "give from and until as TOML date-times (until after from), or count",
            key=key,
            value=item,
        )
    return RefusalWindow(start=start, end=end)


def _per_mille(table: Mapping[str, object]) -> tuple[tuple[FaultKind, int], ...]:
    out: list[tuple[FaultKind, int]] = []
    for name, value in table.items():
        key = f"faults.per_mille.{name}"
        try:
            kind = FaultKind(name)
        except ValueError as exc:
            raise SandboxConfigError("unknown fault kind", key=key, value=name) from exc
        if kind is FaultKind.SFTP_REFUSED:
            raise SandboxConfigError("SFTP refusals go in [[faults.sftp_refusals]]", key=key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 1000:
            raise SandboxConfigError("must be an integer from 0 to 1000", key=key, value=value)
        out.append((kind, value))
    return tuple(out)


def _table(raw: Mapping[str, object], name: str) -> Mapping[str, object]:
    value = raw.get(name, {})
    if not isinstance(value, Mapping):
        raise SandboxConfigError("must be a table", key=name, value=value)
    return value


def _list(raw: Mapping[str, object], name: str) -> list[object]:
    value = raw.get(name, [])
    if not isinstance(value, list):
        raise SandboxConfigError("must be an array of tables", key=name, value=value)
    return value


def _str(raw: Mapping[str, object], name: str, default: str | None, *, key: str) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not value:
        raise SandboxConfigError("must be a non-empty string", key=key, value=value)
    return value


def _opt_str(raw: Mapping[str, object], name: str, parent: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SandboxConfigError("must be a string", key=f"{parent}.{name}", value=value)
    return value


def _int(raw: Mapping[str, object], name: str, default: int, *, key: str | None = None) -> int:
    value = raw.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SandboxConfigError("must be an integer", key=key or name, value=value)
    return value


def _time(raw: Mapping[str, object], name: str, default: time) -> time:
    value = raw.get(name, default)
    if not isinstance(value, time):
        raise SandboxConfigError("must be a TOML local time (16:00:00)", key=f"clock.{name}")
    return value


def _path(base: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path
