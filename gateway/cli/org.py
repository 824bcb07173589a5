"""``huzhu org``: set up a county — its fund office and policy, towns, banks, special accounts
and associations with their sub-accounts — and list what is set up.

Each command is a thin layer over ``gateway.org.service``: codes are looked up, dates and
amounts read, and the service creates (and audits) the row. Anything refused exits 1 with the
reason in Chinese and English, and nothing is written.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.errors import FileFormatError
from adapters.money import format_yuan, parse_yuan
from gateway.cli._common import (
    cli_session,
    console,
    current_settings,
    err_console,
    parse_date,
)
from gateway.errors import NotFound, ValidationFailed
from gateway.org import service as org
from gateway.org.models import (
    AccountLevel,
    Bank,
    County,
    PilotLevel,
    SpecialAccount,
    Town,
)
from gateway.settings import CashMode, PolicyDefaults

org_app = typer.Typer(
    help="组织 Organisation: counties, towns, banks, special accounts, associations.",
    no_args_is_help=True,
)
county_app = typer.Typer(help="县及其互助资金管理办公室 Counties and their fund office.")
town_app = typer.Typer(help="乡镇 Towns.")
bank_app = typer.Typer(help="合作金融机构 Cooperating banks.")
special_account_app = typer.Typer(help="专户 Special accounts.")
association_app = typer.Typer(help="互助协会 Associations, each with its sub-account.")
for _sub in (county_app, town_app, bank_app, special_account_app, association_app):
    _sub.info.no_args_is_help = True

ActorOpt = Annotated[str, typer.Option("--actor", help="Who sets it up (audit log).")]
CountyOpt = Annotated[str, typer.Option("--county", help="County code.")]


# --- reading what was typed -------------------------------------------------------------------


def _date(value: str, what_zh: str, what_en: str) -> date:
    try:
        return parse_date(value)  # the one date format of every command: YYYY-MM-DD
    except typer.BadParameter:
        raise ValidationFailed(
            f"{what_zh}不是日期（应为 YYYY-MM-DD）：{value}",
            f"{what_en} is not a date (YYYY-MM-DD): {value}",
        ) from None


def _fen(value: str, what_zh: str, what_en: str) -> int:
    try:
        return parse_yuan(value, field=what_en)
    except FileFormatError:
        raise ValidationFailed(
            f"{what_zh}不是金额（元，如 30000 或 30000.00）：{value}",
            f"{what_en} is not an amount in yuan (e.g. 30000 or 30000.00): {value}",
        ) from None


# A policy setting as the county command names it: (Chinese, option).
POLICY_OPTIONS: dict[str, tuple[str, str]] = {
    "loan_cap_fen": ("单笔借款上限", "--loan-cap"),
    "county_approval_above_fen": ("县级审批起点", "--county-approval-above"),
    "notice_days": ("公示天数", "--notice-days"),
    "guarantors_required": ("担保户数", "--guarantors"),
    "cash_mode": ("现金处理方式", "--cash-mode"),
}


def _policy(base: PolicyDefaults, changes: dict[str, Any]) -> PolicyDefaults:
    given = {key: value for key, value in changes.items() if value is not None}
    try:
        return PolicyDefaults.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        zh: list[str] = []
        en: list[str] = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            label, option = POLICY_OPTIONS.get(field, (field, field))
            reason = str(error["msg"]).removeprefix("Value error, ")
            zh.append(f"{label}（{option}）不符合规定")
            en.append(f"{option}: {reason}")
        raise ValidationFailed(
            f"县的政策设置不合法：{'；'.join(zh)}",
            f"the county's policy is invalid: {'; '.join(en)}",
        ) from None


# --- looking up codes ------------------------------------------------------------------------


def _county(session: Session, code: str) -> County:
    found = session.scalar(select(County).where(County.code == code))
    if found is None:
        raise NotFound(f"县 {code} 不存在", f"county {code} not found")
    return found


def _town(session: Session, county: County, code: str) -> Town:
    found = session.scalar(select(Town).where(Town.county_id == county.id, Town.code == code))
    if found is None:
        raise NotFound(
            f"县 {county.code} 没有乡镇 {code}", f"county {county.code} has no town {code}"
        )
    return found


def _bank(session: Session, code: str) -> Bank:
    found = session.scalar(select(Bank).where(Bank.code == code))
    if found is None:
        raise NotFound(f"银行 {code} 不存在", f"bank {code} not found")
    return found


def _special_account(session: Session, county: County, number: str) -> SpecialAccount:
    found = list(
        session.scalars(
            select(SpecialAccount).where(
                SpecialAccount.county_id == county.id, SpecialAccount.account_number == number
            )
        )
    )
    if not found:
        raise NotFound(
            f"县 {county.code} 没有专户 {number}",
            f"county {county.code} has no special account {number}",
        )
    if len(found) > 1:  # the same number at two of the county's banks
        raise ValidationFailed(
            f"县 {county.code} 有多个账号为 {number} 的专户",
            f"special account {number} is ambiguous",
        )
    return found[0]


def _policy_line(policy: County | PolicyDefaults) -> str:
    return (
        f"借款上限 loan cap {format_yuan(policy.loan_cap_fen)} · "
        f"县审起点 county approval above {format_yuan(policy.county_approval_above_fen)} · "
        f"公示 notice {policy.notice_days} 天 days · "
        f"担保 guarantors {policy.guarantors_required} · 现金 cash {policy.cash_mode.value}"
    )


# --- creating --------------------------------------------------------------------------------


@county_app.command("create")
def county_create(
    code: Annotated[str, typer.Argument(help="County code, e.g. the region code.")],
    name: Annotated[str, typer.Option("--name", help="County name.")],
    fund_office_name: Annotated[
        str, typer.Option("--fund-office-name", help="The county's mutual-fund office.")
    ],
    fund_office_contact: Annotated[
        str, typer.Option("--fund-office-contact", help="Who to contact there.")
    ] = "",
    loan_cap: Annotated[
        str | None,
        typer.Option(
            "--loan-cap",
            help="Single-loan cap in yuan, at most 30000 (default: the policy setting, 30000).",
        ),
    ] = None,
    county_approval_above: Annotated[
        str | None,
        typer.Option(
            "--county-approval-above",
            help="A loan above this (yuan) needs a county approval; at most 20000 "
            "(default: the policy setting, 20000).",
        ),
    ] = None,
    notice_days: Annotated[
        int | None,
        typer.Option(
            "--notice-days",
            help="Public-notice days, at least 1 (default: the policy setting, 7).",
        ),
    ] = None,
    guarantors: Annotated[
        int | None,
        typer.Option(
            "--guarantors",
            help="Guarantors required besides the borrower (三户联保), at least 2 "
            "(default: the policy setting, 2).",
        ),
    ] = None,
    cash_mode: Annotated[
        CashMode | None,
        typer.Option(
            "--cash-mode",
            help="Cash refused or recorded and flagged (default: the policy setting, refuse).",
        ),
    ] = None,
    actor: ActorOpt = "cli",
) -> None:
    """Create a county with its fund office. Its policy starts from the configured policy
    settings (HUZHU_POLICY__*, as the demo county's) with any option given here in place."""
    settings = current_settings()
    with cli_session(settings) as session:
        policy = _policy(
            settings.policy,
            {
                "loan_cap_fen": _fen(loan_cap, "单笔借款上限", "--loan-cap") if loan_cap else None,
                "county_approval_above_fen": (
                    _fen(county_approval_above, "县级审批起点", "--county-approval-above")
                    if county_approval_above
                    else None
                ),
                "notice_days": notice_days,
                "guarantors_required": guarantors,
                "cash_mode": cash_mode,
            },
        )
        county = org.create_county(
            session,
            code=code,
            name=name,
            fund_office_name=fund_office_name,
            fund_office_contact=fund_office_contact,
            policy=policy,
            actor=actor,
        )
        console().print(
            f"已创建县 created county {county.code} {county.name}: " + _policy_line(policy)
        )


@town_app.command("create")
def town_create(
    county: CountyOpt,
    code: Annotated[str, typer.Option("--code", help="Town code, unique within the county.")],
    name: Annotated[str, typer.Option("--name", help="Town name.")],
    actor: ActorOpt = "cli",
) -> None:
    """Create a town of a county."""
    settings = current_settings()
    with cli_session(settings) as session:
        town = org.create_town(session, _county(session, county), code=code, name=name, actor=actor)
        console().print(f"已创建乡镇 created town {town.code} {town.name} (county {county})")


@bank_app.command("create")
def bank_create(
    code: Annotated[
        str, typer.Argument(help="Bank code: its file layout is config/banks/CODE.toml.")
    ],
    name: Annotated[str, typer.Option("--name", help="Bank name.")],
    actor: ActorOpt = "cli",
) -> None:
    """Create a cooperating bank (合作金融机构)."""
    settings = current_settings()
    with cli_session(settings) as session:
        bank = org.create_bank(session, code=code, name=name, actor=actor)
        console().print(f"已创建银行 created bank {bank.code} {bank.name}")
    layout = settings.config_dir / "banks" / f"{code}.toml"
    if not layout.exists():
        err_console().print(
            f"[yellow]注意：尚无 {layout}，夜间批处理无法与该行交换文件[/yellow] "
            f"(note: no {layout} yet; the nightly cycle cannot exchange files with this bank)"
        )


@special_account_app.command("create")
def special_account_create(
    county: CountyOpt,
    bank: Annotated[str, typer.Option("--bank", help="Bank code.")],
    account_number: Annotated[str, typer.Option("--account-number", help="Account number.")],
    name: Annotated[str, typer.Option("--name", help="Account name.")],
    town: Annotated[
        str | None,
        typer.Option("--town", help="Town code: a town-level account (default: county-level)."),
    ] = None,
    actor: ActorOpt = "cli",
) -> None:
    """Create a county's special account (专户) at a bank; with --town, a town-level one."""
    settings = current_settings()
    with cli_session(settings) as session:
        the_county = _county(session, county)
        the_bank = _bank(session, bank)
        the_town = _town(session, the_county, town) if town is not None else None
        account = org.create_special_account(
            session,
            the_county,
            the_bank,
            account_number=account_number,
            name=name,
            level=AccountLevel.TOWN if the_town else AccountLevel.COUNTY,
            town=the_town,
            actor=actor,
        )
        console().print(
            f"已创建专户 created special account {account.account_number} {account.name} "
            f"({account.level.value}, bank {bank}, county {county})"
        )


@association_app.command("create")
def association_create(
    county: CountyOpt,
    town: Annotated[str, typer.Option("--town", help="Town code.")],
    code: Annotated[str, typer.Option("--code", help="Association code, unique everywhere.")],
    name: Annotated[str, typer.Option("--name", help="Association name.")],
    special_account: Annotated[
        str, typer.Option("--special-account", help="The special account's number.")
    ],
    sub_account_number: Annotated[
        str, typer.Option("--sub-account-number", help="Its own sub-account's number.")
    ],
    pilot_level: Annotated[
        PilotLevel, typer.Option("--pilot-level", help="Provincial or municipal pilot.")
    ],
    start_date: Annotated[
        str, typer.Option("--start-date", help="When it started operating, YYYY-MM-DD.")
    ],
    actor: ActorOpt = "cli",
) -> None:
    """Create an association with its sub-account under a special account, and its ledger."""
    settings = current_settings()
    with cli_session(settings) as session:
        started = _date(start_date, "开始运行日期", "--start-date")
        the_county = _county(session, county)
        association = org.create_association(
            session,
            code=code,
            name=name,
            town=_town(session, the_county, town),
            special_account=_special_account(session, the_county, special_account),
            sub_account_number=sub_account_number,
            pilot_level=pilot_level,
            start_date=started,
            actor=actor,
        )
        console().print(
            f"已创建协会 created association {association.code} {association.name}, "
            f"子账户 sub-account {association.sub_account_number}"
        )


# --- listing ---------------------------------------------------------------------------------


def _table(title: str, headers: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header)
    return table


def _print_county(session: Session, county: County) -> None:
    out = console()
    out.rule(f"[bold]{county.code} {county.name}[/bold] · {county.fund_office_name}")
    out.print(_policy_line(county))
    towns = _table("乡镇 Towns", ("代码 Code", "名称 Name"))
    for town in county.towns:
        towns.add_row(town.code, town.name)
    out.print(towns)
    accounts = _table(
        "专户 Special accounts",
        ("账号 Number", "名称 Name", "银行 Bank", "级别 Level", "乡镇 Town"),
    )
    town_code = {town.id: town.code for town in county.towns}
    specials = list(
        session.scalars(
            select(SpecialAccount)
            .where(SpecialAccount.county_id == county.id)
            .order_by(SpecialAccount.account_number)
        )
    )
    for account in specials:
        accounts.add_row(
            account.account_number,
            account.name,
            f"{account.bank.code} {account.bank.name}",
            account.level.value,
            town_code.get(account.town_id, "") if account.town_id else "",
        )
    out.print(accounts)
    associations = _table(
        "协会 Associations",
        (
            "代码 Code",
            "名称 Name",
            "乡镇 Town",
            "专户 Special account",
            "子账户 Sub-account",
            "试点 Pilot",
            "开始 Started",
            "状态 Status",
        ),
    )
    for association in org.associations_of_county(session, county.id):
        associations.add_row(
            association.code,
            association.name,
            association.town.code,
            association.special_account.account_number,
            association.sub_account_number,
            association.pilot_level.value,
            association.start_date.isoformat(),
            association.status.value,
        )
    out.print(associations)


@org_app.command("list")
def list_command(
    county: Annotated[str | None, typer.Option("--county", help="Only this county.")] = None,
) -> None:
    """Print each county with its towns, special accounts (and banks) and associations."""
    settings = current_settings()
    with cli_session(settings) as session:
        if county is not None:
            counties = [_county(session, county)]
        else:
            counties = list(session.scalars(select(County).order_by(County.code)))
        banks = list(session.scalars(select(Bank).order_by(Bank.code)))
        if not counties and not banks:
            console().print(
                "尚未设置任何县 nothing set up yet — start with `huzhu org county create`"
            )
            return
        if county is None:
            table = _table("合作银行 Banks", ("代码 Code", "名称 Name", "文件格式 Layout"))
            for bank in banks:
                layout = settings.config_dir / "banks" / f"{bank.code}.toml"
                table.add_row(
                    bank.code, bank.name, layout.name if layout.exists() else "缺 missing"
                )
            console().print(table)
        for each in counties:
            _print_county(session, each)
        if not counties:
            console().print("尚无县 no counties yet")


def register(app: typer.Typer) -> None:
    org_app.add_typer(county_app, name="county")
    org_app.add_typer(town_app, name="town")
    org_app.add_typer(bank_app, name="bank")
    org_app.add_typer(special_account_app, name="special-account")
    org_app.add_typer(association_app, name="association")
    app.add_typer(org_app, name="org")
