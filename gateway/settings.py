"""Settings: ``config/default.toml``, then an optional file named by ``HUZHU_CONFIG``,
then ``HUZHU_*`` environment variables (nested with ``__``, e.g. ``HUZHU_POLICY__NOTICE_DAYS``).

Secrets are never inline: a setting names a file path or an environment variable that holds
the secret. Wherever settings are printed, credentials in URLs are masked.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent


def default_config_dir() -> Path:
    env = os.environ.get("HUZHU_CONFIG_DIR")
    if env:
        return Path(env)
    bundled = REPO_ROOT / "config"
    return bundled if bundled.is_dir() else Path.cwd() / "config"


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
    notice_days: int = Field(default=7, ge=0)
    guarantors_required: int = Field(default=2, ge=0)
    cash_mode: CashMode = CashMode.REFUSE
    credit_grades: list[CreditGradeStep] = Field(
        default_factory=lambda: [
            CreditGradeStep(grade="C", min_on_time_loans=0, limit_fen=1_000_000),
            CreditGradeStep(grade="B", min_on_time_loans=1, limit_fen=2_000_000),
            CreditGradeStep(grade="A", min_on_time_loans=2, limit_fen=3_000_000),
        ]
    )

    @field_validator("loan_cap_fen")
    @classmethod
    def _cap_within_ceiling(cls, value: int) -> int:
        return _within_ceiling("policy.loan_cap_fen", value)

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
        extra="ignore",
        validate_default=True,
    )

    config_dir: Path = Field(default_factory=default_config_dir)
    database_url: str = "sqlite:///var/huzhu.db"
    timezone: str = "Asia/Shanghai"
    # Field encryption key (32 random bytes, base64 in a file or an environment variable).
    field_key_file: Path | None = Path("var/field.key")
    field_key_env: str | None = None
    # Development and demo convenience: create the key file when it does not exist yet.
    field_key_autocreate: bool = True
    policy: PolicyDefaults = Field(default_factory=PolicyDefaults)
    nightly: NightlySettings = Field(default_factory=NightlySettings)

    # One more TOML file layered over default.toml (set on a subclass by load_settings).
    extra_config_file: ClassVar[str | None] = None

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
        files = [default_config_dir() / "default.toml"]
        extra = getattr(settings_cls, "extra_config_file", None) or os.environ.get("HUZHU_CONFIG")
        if extra:
            files.append(Path(extra))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=files, deep_merge=True)
        return (init_settings, env_settings, toml)

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
