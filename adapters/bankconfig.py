"""One bank's configuration: ``config/banks/<code>.toml``.

Tables: ``[bank]`` who the bank is, ``[adapter]`` which file format (its other keys go
untouched to the adapter's ``from_options``), ``[sftp]`` where and how files travel,
``[files]`` how batch files are named and inbound files recognised, ``[security]`` signing
and encryption, ``[cutoff]`` and ``[limits]`` the bank's cut-off times and file limits.
Tables this module does not know are kept in ``BankConfig.extra_tables``.

Secrets are never inline: keys are paths, passphrases are names of environment variables.
Relative paths in ``[sftp]``, ``[security]`` and ``[cutoff]`` resolve against the
installation root (the working directory unless ``root`` is given), where ``var/`` lives;
relative paths in ``[adapter]`` are the adapter's business (``config_dir`` is the folder
of the bank file).
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from collections.abc import Mapping
from datetime import date, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from adapters.errors import AdapterError
from adapters.records import Direction, FileKind
from adapters.transport.base import InboundAction, UploadConventions
from adapters.transport.retry import RetryingTransport, RetryPolicy
from adapters.transport.sftp import SftpSettings, SftpTransport


class BankConfigError(AdapterError):
    """A bank file is missing, not TOML, or has a wrong or missing key."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        joined = "; ".join(problems)
        super().__init__(f"银行配置错误 bank configuration {path}: {joined}")


def _resolve(value: Path, info: ValidationInfo) -> Path:
    root = (info.context or {}).get("root")
    if value.is_absolute() or root is None:
        return value
    return Path(root) / value


ConfigPath = Annotated[Path, AfterValidator(_resolve)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Suffix = Annotated[str, Field(pattern=r"^\.[A-Za-z0-9_.-]+$")]


def _secret_from_env(env: str | None) -> SecretStr | None:
    if env is None:
        return None
    value = os.environ.get(env)
    return SecretStr(value) if value else None


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BankSection(_Table):
    code: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    name: Annotated[str, Field(min_length=1)]
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class AdapterSection(BaseModel):
    """``name`` picks the adapter; every other key is its option, passed on untouched."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Annotated[str, Field(min_length=1)]

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SftpSection(_Table):
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(strict=True, ge=1, le=65535)] = 22
    username: Annotated[str, Field(min_length=1)]
    private_key_path: ConfigPath
    private_key_passphrase_env: EnvName | None = None
    known_hosts_path: ConfigPath
    outbound_folder: str = "in"
    inbound_folder: str = "out"
    processed_folder: str | None = "out/processed"
    after_fetch: InboundAction = InboundAction.MOVE
    marker_suffix: Suffix | None = ".done"
    inbound_marker_suffix: Suffix | None = None
    checksum: Annotated[bool, Field(strict=True)] = False
    checksum_suffix: Suffix = ".sha256"
    connect_timeout_seconds: Annotated[float, Field(strict=True, gt=0, le=600)] = 15.0
    operation_timeout_seconds: Annotated[float, Field(strict=True, gt=0, le=3600)] = 120.0
    keepalive_seconds: Annotated[int, Field(strict=True, ge=0, le=3600)] = 30

    @model_validator(mode="after")
    def _processed_folder_for_move(self) -> SftpSection:
        if self.after_fetch is InboundAction.MOVE and not self.processed_folder:
            raise ValueError("after_fetch = 'move' needs processed_folder")
        if self.checksum and self.checksum_suffix == self.marker_suffix:
            raise ValueError("checksum_suffix and marker_suffix must differ")
        return self

    def passphrase(self) -> SecretStr | None:
        """The private key's passphrase from its environment variable, masked in reprs."""
        return _secret_from_env(self.private_key_passphrase_env)

    def settings(self) -> SftpSettings:
        return SftpSettings(
            host=self.host,
            port=self.port,
            username=self.username,
            private_key_path=self.private_key_path,
            private_key_passphrase_env=self.private_key_passphrase_env,
            known_hosts_path=self.known_hosts_path,
            connect_timeout=self.connect_timeout_seconds,
            operation_timeout=self.operation_timeout_seconds,
            keepalive_interval=self.keepalive_seconds,
        )

    def conventions(self) -> UploadConventions:
        return UploadConventions(
            marker_suffix=self.marker_suffix,
            checksum_suffix=self.checksum_suffix if self.checksum else None,
            processed_folder=self.processed_folder,
        )


_TEMPLATE_FIELDS = {"date", "seq", "bank"}
_SAMPLE_DATE = date(2026, 1, 31)


def _check_template(template: str) -> str:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"not a valid template: {exc}") from None
    unknown = fields - _TEMPLATE_FIELDS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)}; use {{date}}, {{seq}}, {{bank}}"
        )
    if not {"date", "seq"} <= fields:
        raise ValueError("the name must contain {date:...} and {seq:...} so it is unique")
    try:
        sample = template.format(date=_SAMPLE_DATE, seq=1, bank="bank")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot be formatted: {exc}") from None
    if "/" in sample or sample in {".", ".."} or not re.fullmatch(r"[\w.\-]+", sample):
        raise ValueError(f"does not give a plain file name (sample {sample!r})")
    # a name that comes back (next year, next month) is refused by the bank as a repeat
    lacking = [
        part
        for part, other in (
            ("year", _SAMPLE_DATE.replace(year=_SAMPLE_DATE.year + 1)),
            ("month", _SAMPLE_DATE.replace(month=3)),
            ("day", _SAMPLE_DATE - timedelta(days=1)),
        )
        if template.format(date=other, seq=1, bank="bank") == sample
    ]
    if lacking:
        raise ValueError(
            f"the date in the name lacks the {'/'.join(lacking)} (sample {sample!r}): the same "
            "name would come back and the bank refuse the file as a repeat; write the whole "
            "date, e.g. {date:%Y%m%d} / 文件名中的日期须含年月日，否则文件名会重复"
        )
    if template.format(date=_SAMPLE_DATE, seq=2, bank="bank") == sample:
        raise ValueError(
            f"the sequence does not show in the name (sample {sample!r}): a day's second file "
            "would take the first one's name; write e.g. {seq:03d} / 文件名须显示当日序号"
        )
    return template


def _names(template: str, max_sequence: int) -> set[str]:
    """Sample names of a template: two days, the first sequences and the last (case folded: a
    server may not tell DF from df)."""
    days = (_SAMPLE_DATE, _SAMPLE_DATE + timedelta(days=1))
    sequences = {1, 2, 10, 100, max_sequence} & set(range(1, max_sequence + 1))
    return {
        template.format(date=day, seq=seq, bank="bank").casefold()
        for day in days
        for seq in sequences
    }


FileTemplate = Annotated[str, AfterValidator(_check_template)]
GlobList = Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class FilesSection(_Table):
    disbursement_name: FileTemplate
    collection_name: FileTemplate
    result_patterns: GlobList
    statement_patterns: GlobList
    max_sequence: Annotated[int, Field(strict=True, ge=1)] = 999

    @model_validator(mode="after")
    def _directions_apart(self) -> FilesSection:
        # each direction numbers its files from 1 each day: were their names the same, the
        # second file uploaded that day would be refused by the bank as a repeat
        same = _names(self.disbursement_name, self.max_sequence) & _names(
            self.collection_name, self.max_sequence
        )
        if same:
            raise ValueError(
                "disbursement_name and collection_name give the same file name "
                f"({sorted(same)[0]!r}): each direction numbers its files from 1 each day, so "
                "the second file of the day would be refused as a repeat; make them differ "
                "(e.g. DF_... and DK_...) / 代发与代扣的文件名模板会生成相同文件名，须加以区分"
            )
        return self

    def batch_file_name(
        self, direction: Direction, business_date: date, sequence: int, bank_code: str
    ) -> str:
        """The deterministic name of a batch file for a business date and daily sequence."""
        if not 1 <= sequence <= self.max_sequence:
            raise ValueError(f"sequence {sequence} is outside 1..{self.max_sequence}")
        template = (
            self.disbursement_name if direction is Direction.DISBURSEMENT else self.collection_name
        )
        return template.format(date=business_date, seq=sequence, bank=bank_code)


class SignAlgorithm(StrEnum):
    NONE = "none"
    ED25519 = "ed25519"
    RSA_PSS_SHA256 = "rsa-pss-sha256"


class SecuritySection(_Table):
    sign: SignAlgorithm = SignAlgorithm.NONE
    sign_key_path: ConfigPath | None = None
    sign_key_passphrase_env: EnvName | None = None
    verify: SignAlgorithm = SignAlgorithm.NONE
    verify_key_path: ConfigPath | None = None
    encrypt: Annotated[bool, Field(strict=True)] = False
    encrypt_key_path: ConfigPath | None = None
    decrypt: Annotated[bool, Field(strict=True)] = False
    decrypt_key_path: ConfigPath | None = None
    decrypt_key_passphrase_env: EnvName | None = None

    @model_validator(mode="after")
    def _keys_where_needed(self) -> SecuritySection:
        needs = [
            (self.sign is not SignAlgorithm.NONE, "sign_key_path", self.sign_key_path),
            (self.verify is not SignAlgorithm.NONE, "verify_key_path", self.verify_key_path),
            (self.encrypt, "encrypt_key_path", self.encrypt_key_path),
            (self.decrypt, "decrypt_key_path", self.decrypt_key_path),
        ]
        missing = [key for needed, key, value in needs if needed and value is None]
        if missing:
            raise ValueError(f"{', '.join(missing)} must be set for what is switched on")
        return self


def _parse_hhmm(value: object) -> object:
    if isinstance(value, str):
        if not re.fullmatch(r"\d{2}:\d{2}", value):
            raise ValueError(f"time must be written HH:MM, got {value!r}")
        return time.fromisoformat(value)
    return value


class CutoffSection(BaseModel):
    """When batches must reach the bank; payments may add keys of their own."""

    model_config = ConfigDict(extra="allow", frozen=True)

    disbursement: time = time(16, 0)
    collection: time = time(16, 0)
    holiday_calendar: ConfigPath | None = None

    @field_validator("disbursement", "collection", mode="before")
    @classmethod
    def _hhmm(cls, value: object) -> object:
        return _parse_hhmm(value)


class LimitsSection(BaseModel):
    """What one file may carry; payments may add keys of their own."""

    model_config = ConfigDict(extra="allow", frozen=True)

    max_lines_per_file: Annotated[int, Field(strict=True, ge=1)] = 5000
    max_amount_fen_per_file: Annotated[int, Field(strict=True, ge=1)] | None = None


class BankConfig(BaseModel):
    """One bank, as configured in its TOML file."""

    model_config = ConfigDict(extra="allow", frozen=True)

    bank: BankSection
    adapter: AdapterSection
    sftp: SftpSection
    files: FilesSection
    security: SecuritySection = SecuritySection()
    cutoff: CutoffSection = CutoffSection()
    limits: LimitsSection = LimitsSection()
    source: Path | None = None

    @property
    def code(self) -> str:
        return self.bank.code

    @property
    def config_dir(self) -> Path:
        """Where the bank file lives: relative adapter options resolve against it."""
        return self.source.parent if self.source is not None else Path()

    @property
    def extra_tables(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def inbound_patterns(self) -> dict[FileKind, list[str]]:
        """Which inbound file names are result files and which are statements."""
        return {
            FileKind.RESULT: list(self.files.result_patterns),
            FileKind.STATEMENT: list(self.files.statement_patterns),
        }

    def open_transport(self, policy: RetryPolicy | None = None) -> RetryingTransport:
        """The bank's SFTP transport, retrying transient failures with ``policy``."""
        inner = SftpTransport(self.sftp.settings(), self.sftp.conventions())
        return RetryingTransport(inner, policy)


_INLINE_SECRET = re.compile(r"(passphrase|password|secret|token|private_key)$", re.IGNORECASE)


def _inline_secrets(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            found.extend(_inline_secrets(value, f"{dotted}."))
        elif _INLINE_SECRET.search(key):
            found.append(
                f"{dotted}: 密钥和口令不得写在配置中 secrets are never inline; give a file "
                "path (*_path) or the name of an environment variable (*_env)"
            )
    return found


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        key = ".".join(str(part) for part in error["loc"]) or "(file)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] in {"extra_forbidden"}:
            message = "unknown key"
        problems.append(f"{key}: {message}")
    return problems


def parse_bank_config(
    raw: Mapping[str, Any], *, source: Path, root: Path | None = None
) -> BankConfig:
    """Validate an already-read bank table; ``source`` names the file in errors."""
    problems = _inline_secrets(raw)
    if problems:
        raise BankConfigError(source, problems)
    try:
        return BankConfig.model_validate(
            {**raw, "source": source},
            context={"root": root if root is not None else Path.cwd()},
        )
    except ValidationError as exc:
        raise BankConfigError(source, _describe(exc)) from None


def load_bank_config(path: Path, *, root: Path | None = None) -> BankConfig:
    """Read and check one bank file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BankConfigError(path, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BankConfigError(path, [f"cannot be read: {exc}"]) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BankConfigError(path, [f"not valid TOML: {exc}"]) from None
    return parse_bank_config(raw, source=path, root=root)


# How much of a bank's code a batch's message id carries (``DF`` + code + date + sequence,
# within the 35 characters of an ISO 20022 MsgId): two banks must differ in it.
MESSAGE_ID_CODE_CHARS = 12


def load_bank_configs(config_dir: Path, *, root: Path | None = None) -> dict[str, BankConfig]:
    """Every ``*.toml`` directly in ``config_dir`` (layouts live in a sub-folder), by code.

    Two banks whose codes share their first ``MESSAGE_ID_CODE_CHARS`` characters are refused:
    their batches of a day would have the same message id."""
    if not config_dir.is_dir():
        raise BankConfigError(config_dir, ["not a folder"])
    banks: dict[str, BankConfig] = {}
    for path in sorted(config_dir.glob("*.toml")):
        config = load_bank_config(path, root=root)
        previous = banks.get(config.code)
        if previous is not None:
            raise BankConfigError(
                path, [f"bank.code: {config.code!r} is already used by {previous.source}"]
            )
        stem = config.code.upper()[:MESSAGE_ID_CODE_CHARS]
        alike = next(
            (b for b in banks.values() if b.code.upper()[:MESSAGE_ID_CODE_CHARS] == stem), None
        )
        if alike is not None:
            raise BankConfigError(
                path,
                [
                    f"bank.code: {config.code!r} and {alike.code!r} ({alike.source}) share their "
                    f"first {MESSAGE_ID_CODE_CHARS} characters, which batch message ids carry: "
                    "their batches would have the same ids"
                ],
            )
        banks[config.code] = config
    return banks


__all__ = [
    "MESSAGE_ID_CODE_CHARS",
    "AdapterSection",
    "BankConfig",
    "BankConfigError",
    "BankSection",
    "CutoffSection",
    "FilesSection",
    "LimitsSection",
    "SecuritySection",
    "SftpSection",
    "SignAlgorithm",
    "load_bank_config",
    "load_bank_configs",
    "parse_bank_config",
]
