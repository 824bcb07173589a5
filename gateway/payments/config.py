"""Payments configuration: ``config/payments.toml``.

``[collections]`` says how loans are repaid and how failed or partial collections are
retried (a county may override it in ``[counties.<code>.collections]``); ``[scheduler]``
holds the cron triggers of ``huzhu scheduler``; ``[calendar]`` names the holiday calendar
used where a bank's ``[cutoff] holiday_calendar`` is not set.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import ConfigurationError
from gateway.payments.models import RepaymentMethod


class CollectionPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    repayment_method: RepaymentMethod = RepaymentMethod.EQUAL_INSTALMENTS
    # After a failed or partial collection, retry after these many days (one entry per retry).
    retry_after_days: list[Annotated[int, Field(ge=1, le=90)]] = Field(
        default_factory=lambda: [3, 7]
    )

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_after_days)


class CountyOverrides(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    collections: CollectionPolicy | None = None


class SchedulerConfig(BaseModel):
    """Cron expressions (minute hour day month day_of_week, read as crontab reads them: day of
    week 0 and 7 are Sunday) in the scheduler's time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Shanghai"
    nightly: str = "30 6 * * *"  # fetch, ingest, reconcile, collections, batches for today
    batches: str = "0 14 * * mon-fri"  # a second round of batches before the cut-offs
    # a step's run showing no sign of life this long is taken over (and retried); a working
    # step renews its lease for at most longest_step_minutes
    lease_minutes: int = Field(default=60, ge=1)
    longest_step_minutes: int = Field(default=360, ge=1)
    catch_up_days: int = Field(default=7, ge=0)  # how far back a missed date is caught up
    # a run leaving steps not done (failed, or running elsewhere) is run again this much later
    # (0: not before the next night), at most retries_per_day times for its business date
    retry_minutes: float = Field(default=30, ge=0)
    retries_per_day: int = Field(default=6, ge=0)


class CalendarConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Path = Path("calendar/cn.toml")  # relative to the config folder


class PaymentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    collections: CollectionPolicy = CollectionPolicy()
    counties: dict[str, CountyOverrides] = Field(default_factory=dict)
    scheduler: SchedulerConfig = SchedulerConfig()
    calendar: CalendarConfig = CalendarConfig()

    def policy_for(self, county_code: str) -> CollectionPolicy:
        override = self.counties.get(county_code)
        if override is not None and override.collections is not None:
            return override.collections
        return self.collections


def load_payments_config(config_dir: Path) -> PaymentsConfig:
    """``config_dir/payments.toml``, or the defaults when the file does not exist."""
    path = config_dir / "payments.toml"
    if not path.exists():
        return PaymentsConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return PaymentsConfig.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ConfigurationError(
            f"支付配置错误 {path}", f"payments configuration {path} is invalid: {exc}"
        ) from exc
