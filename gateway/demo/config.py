"""The demo county's description, read from the ``[demo]`` table of ``config/demo.toml``."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field

from gateway.errors import ConfigurationError


class DemoTown(BaseModel):
    code: str
    name: str
    villages: list[str] = Field(min_length=1)


class DemoConfig(BaseModel):
    seed: int = 20240601
    business_date: date
    county_code: str
    county_name: str
    fund_office_name: str
    bank_code: str
    bank_name: str
    special_account_number: str
    special_account_name: str
    region_code: str = Field(pattern=r"^\d{6}$")
    card_bin: str = Field(pattern=r"^\d{6}$")
    towns: list[DemoTown] = Field(min_length=1)
    members_min: int = Field(default=20, ge=3)
    members_max: int = Field(default=40, ge=3)
    deposit_fen: int = Field(default=50_000, gt=0)
    # Fiscal capital per association, by level (fen). Provincial pilots get central and
    # provincial money; municipal pilots get municipal and county money.
    central_fen: int = Field(default=20_000_000, ge=0)
    provincial_fen: int = Field(default=5_000_000, ge=0)
    municipal_fen: int = Field(default=15_000_000, ge=0)
    county_fen: int = Field(default=5_000_000, ge=0)
    donation_fen: int = Field(default=1_000_000, ge=0)
    loans_per_association: int = Field(default=3, ge=0)
    monthly_fee_rate_centipermille: int = Field(default=600, ge=0)


def load_demo_config(path: Path) -> DemoConfig:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(
            f"无法读取演示配置 {path}", f"cannot read the demo configuration {path}: {exc}"
        ) from exc
    if "demo" not in data:
        raise ConfigurationError(f"{path} 缺少 [demo] 表", f"{path} has no [demo] table")
    return DemoConfig.model_validate(data["demo"])
