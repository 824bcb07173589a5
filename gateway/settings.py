"""Settings: ``config/default.toml``, then an optional file named by ``HUZHU_CONFIG``,
then ``HUZHU_*`` environment variables (nested with ``__``, e.g. ``HUZHU_POLICY__NOTICE_DAYS``).

A relative path in a settings file (a SQLite ``database_url``, ``field_key_file``,
``config_dir``) resolves against that file's folder, so a command finds the same database and
key whichever folder it runs from; the built-in defaults resolve against the install root (the
config folder's parent). A relative path in a ``HUZHU_*`` variable resolves against the current
folder, like any path typed on a command line. A settings file that is missing, is not valid
TOML or holds a key no setting has is refused, naming the file (and the line or the key).

Secrets are never inline: a setting names a file path or an environment variable that holds
the secret. Wherever settings are printed, credentials in URLs are masked.
"""

from __future__ import annotations

import itertools
import os
import tomllib
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from adapters.money import grouped_yuan
from gateway.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_config_dir() -> Path:
    env = os.environ.get("HUZHU_CONFIG_DIR")
    if env:
        return Path(env)
    bundled = REPO_ROOT / "config"
    return bundled if bundled.is_dir() else Path.cwd() / "config"


def install_root() -> Path:
    """The folder the built-in defaults' relative paths (``var/huzhu.db``) resolve against:
    the config folder's parent."""
    return default_config_dir().resolve().parent


def resolve_sqlite_url(url: str, base: Path) -> str:
    """A SQLite URL whose relative database path is made absolute against ``base``; any other
    URL (PostgreSQL, ``:memory:``, an absolute path, one that does not parse) unchanged."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # a port that is not a number: ValueError
        return url
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
        or Path(database).expanduser().is_absolute()
    ):
        return url
    absolute = os.path.normpath(base.resolve() / database)
    return parsed.set(database=absolute).render_as_string(hide_password=False)


def _default_database_url() -> str:
    return resolve_sqlite_url("sqlite:///var/huzhu.db", install_root())


def _default_field_key_file() -> Path:
    return install_root() / "var" / "field.key"


class CashMode(StrEnum):
    """How a county treats cash: refused outright, or recorded and flagged (transitional)."""

    REFUSE = "refuse"
    TRANSITIONAL = "transitional"


# The Linyi notice (二(二)三): 最高借款不超过 30000 元. No county setting may lend more.
LOAN_CEILING_FEN = 3_000_000
LOAN_CEILING_RULE = (
    "最高借款不超过 30000 元 / a loan is at most 30,000 yuan (Linyi notice 二(二)三)"
)


def _within_ceiling(setting: str, value: int) -> int:
    if value > LOAN_CEILING_FEN:
        raise ValueError(
            f"{setting} = {value} fen exceeds {LOAN_CEILING_FEN} fen (30,000 yuan): "
            f"{LOAN_CEILING_RULE}"
        )
    return value


# The other county settings rules 3 and 4 of the seeds bound. A county may be stricter than
# these, never looser: a county approval from a lower amount, more guarantors, a longer notice.
# Rule 3 (Wenzhou notice 二): a loan above 20,000 yuan needs a recorded county approval.
COUNTY_APPROVAL_CEILING_FEN = 2_000_000
COUNTY_APPROVAL_RULE = (
    "借款超过 20000 元须经县级审批，县可从更低的金额起审批 / a loan above 20,000 yuan needs a "
    "recorded county approval; a county may ask for it from a lower amount, not a higher one"
)
# Rule 4 (Linyi notice 四, 三户联保): the borrower's household and two others, so at least two
# guarantors from households other than the borrower's (gateway.loans.rules.check_guarantors).
MIN_GUARANTORS = 2
GUARANTEE_RULE = (
    "三户联保：借款人之外至少另有 2 户担保 / the three-household joint guarantee: at least 2 "
    "guarantors from households other than the borrower's"
)
# Rule 4 (Linyi notice 四, 公告公示): money moves only after a public notice of at least a day.
MIN_NOTICE_DAYS = 1
NOTICE_RULE = (
    "借款须公告公示至少 1 天后方可放款 / a loan is publicly noticed for at least 1 day before "
    "money moves"
)


def _approval_within_rule(setting: str, value: int) -> int:
    if value > COUNTY_APPROVAL_CEILING_FEN:
        raise ValueError(
            f"{setting} = {value} fen ({grouped_yuan(value)} yuan) exceeds "
            f"{COUNTY_APPROVAL_CEILING_FEN} fen (20,000 yuan): {COUNTY_APPROVAL_RULE}"
        )
    return value


def _enough_guarantors(setting: str, value: int) -> int:
    if value < MIN_GUARANTORS:
        raise ValueError(f"{setting} = {value} is fewer than {MIN_GUARANTORS}: {GUARANTEE_RULE}")
    return value


def _notice_long_enough(setting: str, value: int) -> int:
    if value < MIN_NOTICE_DAYS:
        raise ValueError(f"{setting} = {value} days is less than {MIN_NOTICE_DAYS}: {NOTICE_RULE}")
    return value


# Each county policy setting the seeds bound, with its check: ``check(setting, value)`` returns
# the value or raises ValueError naming the setting and the rule. PolicyDefaults (settings files,
# HUZHU_POLICY__*, the command line) and the County row itself apply them.
SEED_RULE_CHECKS: dict[str, Callable[[str, int], int]] = {
    "loan_cap_fen": _within_ceiling,
    "county_approval_above_fen": _approval_within_rule,
    "guarantors_required": _enough_guarantors,
    "notice_days": _notice_long_enough,
}


class CreditGradeStep(BaseModel):
    """One row of the credit-grade table: a member holding ``grade`` may owe up to
    ``limit_fen``. ``min_on_time_loans`` orders the grades (the entry grade has 0); the grade a
    member holds is stored, moved by the yearly review or an audited adjustment (see
    gateway.grading), never by a repayment."""

    grade: str = Field(min_length=1, max_length=8)
    min_on_time_loans: int = Field(ge=0)
    limit_fen: int = Field(gt=0)

    @model_validator(mode="after")
    def _limit_within_ceiling(self) -> CreditGradeStep:
        _within_ceiling(f"policy.credit_grades[grade={self.grade}].limit_fen", self.limit_fen)
        return self


class PolicyDefaults(BaseModel):
    """Defaults a new county starts with; each county may change its own copy."""

    loan_cap_fen: int = Field(default=3_000_000, gt=0)
    county_approval_above_fen: int = Field(default=2_000_000, gt=0)
    # bounded so that a slip of the keyboard is refused, not stored: a public notice of more
    # than a quarter, or more guarantors than a joint-guarantee group holds, is no policy; the
    # lower bounds are the seeds' (SEED_RULE_CHECKS)
    notice_days: int = Field(default=7, le=90)
    guarantors_required: int = Field(default=2, le=10)
    cash_mode: CashMode = CashMode.REFUSE
    credit_grades: list[CreditGradeStep] = Field(
        default_factory=lambda: [
            CreditGradeStep(grade="C", min_on_time_loans=0, limit_fen=1_000_000),
            CreditGradeStep(grade="B", min_on_time_loans=1, limit_fen=2_000_000),
            CreditGradeStep(grade="A", min_on_time_loans=2, limit_fen=3_000_000),
        ]
    )

    @field_validator(*SEED_RULE_CHECKS)
    @classmethod
    def _within_seed_rules(cls, value: int, info: ValidationInfo) -> int:
        return SEED_RULE_CHECKS[str(info.field_name)](f"policy.{info.field_name}", value)

    @field_validator("credit_grades")
    @classmethod
    def _grades_ordered(cls, steps: list[CreditGradeStep]) -> list[CreditGradeStep]:
        if not steps:
            raise ValueError("at least one credit grade is needed")
        if steps[0].min_on_time_loans != 0:
            raise ValueError("the first credit grade must start at 0 on-time loans")
        for before, after in itertools.pairwise(steps):
            if after.min_on_time_loans <= before.min_on_time_loans:
                raise ValueError("credit grades must be ordered by min_on_time_loans")
        return steps


class NightlySettings(BaseModel):
    """The nightly pipeline's settings (``gateway.jobs``): ``[nightly]`` in the TOML files."""

    # A batch sent and still without an answer (result file or refusal notice) this many
    # banking days after its business date raises a ``no_answer`` follow-up (银行逾期未回盘).
    answer_within_banking_days: int = Field(default=2, ge=1, le=30)


def mask_url(url: str) -> str:
    """``postgresql+psycopg://u:secret@h/db`` -> ``postgresql+psycopg://u:***@h/db``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is printed as a whole mask, never verbatim
        return "***"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUZHU_",
        env_nested_delimiter="__",
        # Unknown HUZHU_* variables are not looked at (the CLI warns of them, see
        # unknown_environment); unknown keys in a settings file are refused by _SettingsFiles,
        # naming the file and the key.
        extra="ignore",
        validate_default=True,
    )

    config_dir: Path = Field(default_factory=default_config_dir)
    database_url: str = Field(default_factory=_default_database_url)
    timezone: str = "Asia/Shanghai"
    # Field encryption key (32 random bytes, base64 in a file or an environment variable).
    field_key_file: Path | None = Field(default_factory=_default_field_key_file)
    field_key_env: str | None = None
    # First-run and demo convenience: create the key file when it does not exist yet and the
    # database holds nothing encrypted (gateway.security.fieldcrypt refuses otherwise).
    field_key_autocreate: bool = True
    policy: PolicyDefaults = Field(default_factory=PolicyDefaults)
    nightly: NightlySettings = Field(default_factory=NightlySettings)

    # One more TOML file layered over default.toml (set on a subclass by load_settings).
    extra_config_file: ClassVar[str | None] = None
    # Tables other readers take from a settings file (config/demo.toml's [demo] is read by
    # gateway.demo.config): allowed there, not settings.
    foreign_tables: ClassVar[frozenset[str]] = frozenset({"demo", "demo_cycle"})

    @model_validator(mode="after")
    def _key_source(self) -> Settings:
        if self.field_key_file is None and not self.field_key_env:
            raise ValueError("field_key_file or field_key_env must name the field encryption key")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        defaults = default_config_dir() / "default.toml"
        # default.toml is skipped only when there is none; a named file must exist.
        files = [defaults] if defaults.is_file() else []
        extra = getattr(settings_cls, "extra_config_file", None) or os.environ.get("HUZHU_CONFIG")
        if extra:
            files.append(Path(extra))
        return (init_settings, env_settings, _SettingsFiles(settings_cls, files))

    @property
    def files_root(self) -> Path:
        """The folder relative paths in ``config/banks/*.toml`` (``var/keys/...``) resolve
        against: the config folder's parent, whichever folder a command runs from."""
        return self.config_dir.resolve().parent

    def today(self) -> date:
        """Today's business date in the configured time zone (Asia/Shanghai by default)."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    def masked(self) -> dict[str, Any]:
        """The settings as a plain dict, safe to print or log."""
        data = self.model_dump(mode="json")
        data["database_url"] = mask_url(self.database_url)
        return data

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (mask_url(value) if name == "database_url" else value)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from the TOML files and environment; ``config_file`` layers one more file
    (e.g. ``config/demo.toml``) over ``default.toml`` in place of ``HUZHU_CONFIG``."""
    if config_file is None:
        return Settings(**overrides)
    layered = type("LayeredSettings", (Settings,), {"extra_config_file": str(config_file)})
    settings: Settings = layered(**overrides)
    return settings


# HUZHU_* variables that are read elsewhere, not settings: the layered settings file, the
# console's cookie switch, and the test suite's and benchmarks' own.
_NOT_SETTINGS = ("CONFIG", "SERVE_INSECURE_COOKIES")
_NOT_SETTINGS_PREFIXES = ("TEST_", "BENCH_")


def unknown_environment(settings: Settings, environ: Mapping[str, str]) -> list[str]:
    """The ``HUZHU_*`` variables in ``environ`` that set nothing: neither a setting (nested
    with ``__``, any case, as pydantic-settings reads them), nor a variable read elsewhere, nor
    the one ``field_key_env`` names, nor one a bank's configuration names for a secret
    (``*_env`` in ``config/banks/*.toml``). A misspelt ``HUZHU_DATABSE_URL`` is one of them."""
    unknown: list[str] = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("HUZHU_"):
            continue
        rest = upper.removeprefix("HUZHU_")
        if (
            rest in _NOT_SETTINGS
            or rest.startswith(_NOT_SETTINGS_PREFIXES)
            or (settings.field_key_env and upper == settings.field_key_env.upper())
        ):
            continue
        if not _names_setting(type(settings), rest.lower().split("__")):
            unknown.append(name)
    if not unknown:
        return []  # the bank configurations are read only when something is left to excuse
    secrets = _secret_variables(settings.config_dir / "banks")
    return [name for name in unknown if name.upper() not in secrets]


def _secret_variables(banks_dir: Path) -> set[str]:
    """The environment variables the bank configurations in ``banks_dir`` name (``*_env``
    keys), upper-cased; a file that cannot be read names none here (loading it says why)."""
    names: set[str] = set()

    def walk(table: Mapping[str, Any]) -> None:
        for key, value in table.items():
            if isinstance(value, Mapping):
                walk(value)
            elif key.endswith("_env") and isinstance(value, str):
                names.add(value.upper())

    for path in sorted(banks_dir.glob("*.toml")) if banks_dir.is_dir() else []:
        try:
            walk(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
    return names


def _names_setting(model: type[BaseModel], path: list[str]) -> bool:
    field = model.model_fields.get(path[0])
    if field is None:
        return False
    if len(path) == 1:
        return True
    nested = [m for m, many in _models_in(field.annotation) if not many]
    if nested:
        return _names_setting(nested[0], path[1:])
    # a key inside a mapping setting is the mapping's business; a plain value has no inside
    return typing.get_origin(field.annotation) in (dict, Mapping)


# Settings whose value, when written in a settings file, is a path relative to that file.
_FILE_PATH_KEYS = ("field_key_file", "config_dir")


def _unknown_keys(model: type[BaseModel], data: Mapping[str, Any], prefix: str) -> list[str]:
    """Dotted names of the keys in ``data`` that ``model`` has no field for, nested models
    (and lists of them) included."""
    unknown: list[str] = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            unknown.append(prefix + key)
            continue
        for nested, many in _models_in(field.annotation):
            if many and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, Mapping):
                        unknown += _unknown_keys(nested, item, f"{prefix}{key}[{index}].")
            elif not many and isinstance(value, Mapping):
                unknown += _unknown_keys(nested, value, f"{prefix}{key}.")
    return unknown


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """The pydantic models an annotation holds: ``(model, False)`` for ``Model`` (or
    ``Model | None``), ``(model, True)`` for ``list[Model]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        return [(model, True) for model, _ in _models_in(args[0])]
    if origin in (typing.Union, types.UnionType):
        return [found for arg in args for found in _models_in(arg)]
    return []


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_settings_file(path: Path, settings_cls: type[Settings] | None = None) -> dict[str, Any]:
    """One settings file's table, relative paths made absolute against its folder; a missing
    or unreadable file, bad TOML or an unknown key is a ``ConfigurationError`` naming it."""
    model = settings_cls or Settings
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"配置文件不存在：{path}",
            f"settings file {path} does not exist",
            code="settings_file_missing",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"配置文件无法读取：{path}（{exc}）",
            f"settings file {path} cannot be read: {exc}",
            code="settings_file_unreadable",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(
            f"配置文件不是合法的 TOML：{path}：{exc}",
            f"settings file {path} is not valid TOML: {exc}",
            code="settings_file_invalid",
        ) from None
    unknown = _unknown_keys(
        model, {k: v for k, v in data.items() if k not in model.foreign_tables}, ""
    )
    if unknown:
        names = ", ".join(unknown)
        raise ConfigurationError(
            f"配置文件 {path} 含有不认识的设置项：{names}（拼写错误？）",
            f"settings file {path} has unknown keys: {names} (misspelt?)",
            code="settings_unknown_key",
        )
    base = path.resolve().parent
    if isinstance(data.get("database_url"), str):
        data["database_url"] = resolve_sqlite_url(data["database_url"], base)
    for key in _FILE_PATH_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            data[key] = os.path.normpath(base / value)
    return data


class _SettingsFiles(InitSettingsSource):
    """``default.toml`` and the layered file, each read by :func:`read_settings_file`, merged
    table by table (the later file wins)."""

    def __init__(self, settings_cls: type[BaseSettings], files: list[Path]) -> None:
        merged: dict[str, Any] = {}
        model = settings_cls if issubclass(settings_cls, Settings) else Settings
        for path in files:
            merged = _deep_merge(merged, read_settings_file(path, model))
        for table in model.foreign_tables:
            merged.pop(table, None)
        super().__init__(settings_cls, merged)
