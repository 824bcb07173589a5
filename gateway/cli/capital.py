"""``huzhu capital``: the money an association starts with — fiscal funds by level, donations and
other capital, and each member's deposit (入会互助金) — booked as it reaches the sub-account, and
what each source has put in.

Each command is a thin layer over ``gateway.capital.service``, which books the entry (Dr bank
sub-account, Cr the source's account) and audits it. Amounts are typed in yuan and read exactly;
anything refused exits 1 with the reason in Chinese and English, and nothing is written.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import select

from adapters.errors import FileFormatError
from adapters.money import grouped_yuan, parse_yuan
from gateway.capital import service as capital
from gateway.capital.models import CapitalSource
from gateway.cli._common import cli_session, console, current_settings, parse_date
from gateway.errors import NotFound, ValidationFailed
from gateway.ledger.models import AccountCode
from gateway.ledger.service import balance
from gateway.members.models import Member
from gateway.org.service import get_association_by_code

capital_app = typer.Typer(
    help="资金 Capital: fiscal funds, donations and member deposits paid in.",
    no_args_is_help=True,
)

# What ``contribute`` books: every source but member deposits, which ``deposit`` books per member.
CONTRIBUTED = tuple(s.value for s in CapitalSource if s is not CapitalSource.MEMBER_DEPOSIT)

AssociationOpt = Annotated[str, typer.Option("--association", help="Association code.")]
AmountOpt = Annotated[str, typer.Option("--amount", help="Amount in yuan, e.g. 200000.00.")]
OnOpt = Annotated[str, typer.Option("--on", help="Day it reached the sub-account, YYYY-MM-DD.")]
ReferenceOpt = Annotated[str, typer.Option("--reference", help="Its document number.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who books it (audit log).")]


def _received_on(value: str, today: date) -> date:
    """The day money reached the sub-account: YYYY-MM-DD, and not a day still to come."""
    day = parse_date(value)
    if day > today:
        raise ValidationFailed(
            f"到账日期 {day.isoformat()} 晚于今天 {today.isoformat()}",
            f"--on {day.isoformat()} is after today, {today.isoformat()}",
        )
    return day


def _fen(value: str) -> int:
    """The amount typed in yuan, as fen; refused in yuan, the unit it was typed in."""
    try:
        fen = parse_yuan(value, field="--amount")
    except FileFormatError:
        raise ValidationFailed(
            f"金额应为元（如 200000 或 200000.00）：{value}",
            f"--amount is not an amount in yuan (e.g. 200000 or 200000.00): {value}",
        ) from None
    if fen <= 0:
        raise ValidationFailed(
            f"金额必须大于 0 元：{value.strip()} 元",
            f"--amount must be more than 0 yuan: {value.strip()} yuan",
        )
    return fen


@capital_app.command("contribute")
def contribute(
    association: AssociationOpt,
    source: Annotated[
        str, typer.Option("--source", help="One of: " + ", ".join(CONTRIBUTED) + ".")
    ],
    amount: AmountOpt,
    on: OnOpt,
    reference: ReferenceOpt = "",
    actor: ActorOpt = "cli",
) -> None:
    """Book fiscal funds, a donation or other capital received into the sub-account."""
    if source not in CONTRIBUTED:
        raise typer.BadParameter(
            f"资金来源应为 {', '.join(CONTRIBUTED)} 之一：{source!r} / --source must be one of "
            f"{', '.join(CONTRIBUTED)} (member deposits: huzhu capital deposit)"
        )
    settings = current_settings()
    with cli_session(settings) as session:
        day = _received_on(on, settings.today())
        found = get_association_by_code(session, association)
        booked = capital.record_contribution(
            session,
            association_id=found.id,
            source=CapitalSource(source),
            amount_fen=_fen(amount),
            received_on=day,
            reference=reference,
            actor=actor,
        )
        console().print(
            f"已入账 booked {grouped_yuan(booked.amount_fen)} 元 "
            f"{capital.SOURCE_LABEL_ZH[booked.source]} ({booked.source.value}) "
            f"into {found.code} on {day.isoformat()}"
        )


@capital_app.command("deposit")
def deposit(
    association: AssociationOpt,
    member: Annotated[str, typer.Option("--member", help="The member's number.")],
    amount: AmountOpt,
    on: OnOpt,
    reference: ReferenceOpt = "",
    actor: ActorOpt = "cli",
) -> None:
    """Book a member's deposit (入会互助金) paid into the association's sub-account."""
    settings = current_settings()
    with cli_session(settings) as session:
        day = _received_on(on, settings.today())
        found = get_association_by_code(session, association)
        member_id = session.scalar(
            select(Member.id).where(
                Member.association_id == found.id, Member.member_no == member.strip()
            )
        )
        if member_id is None:
            raise NotFound(
                f"协会 {found.code} 没有编号为 {member} 的会员",
                f"association {found.code} has no member numbered {member}",
            )
        booked = capital.record_member_deposit(
            session,
            member_id=member_id,
            amount_fen=_fen(amount),
            received_on=day,
            reference=reference,
            actor=actor,
        )
        console().print(
            f"已入账 booked {grouped_yuan(booked.amount_fen)} 元 "
            f"会员 {member} 入会互助金 (member deposit) into {found.code} on {day.isoformat()}"
        )


@capital_app.command("show")
def show(association: AssociationOpt) -> None:
    """What each source has put into the association, and its sub-account's balance."""
    settings = current_settings()
    with cli_session(settings) as session:
        found = get_association_by_code(session, association)
        totals = capital.totals_by_source(session, found.id)
        table = Table(title=f"{found.code} {found.name} 资金来源 capital by source")
        table.add_column("来源 Source")
        table.add_column("金额（元）Amount", justify="right")
        for source in CapitalSource:
            if source in totals:
                table.add_row(
                    f"{capital.SOURCE_LABEL_ZH[source]} {source.value}",
                    grouped_yuan(totals[source]),
                )
        table.add_row("合计 total", grouped_yuan(sum(totals.values())))
        console().print(table)
        in_bank = balance(session, found.id, AccountCode.BANK_SUB_ACCOUNT)
        console().print(
            f"子账户余额 sub-account balance {found.sub_account_number}: {grouped_yuan(in_bank)} 元"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(capital_app, name="capital")
