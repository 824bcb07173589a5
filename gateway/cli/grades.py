"""``huzhu grades adjust``: the county's audited adjustment of a member's credit grade between
yearly reviews (the review itself is ``huzhu reports credit-review``)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.money import format_yuan
from gateway.cli._common import cli_session, console, current_settings
from gateway.errors import NotFound, ValidationFailed
from gateway.members.models import Member

grades_app = typer.Typer(help="信用等级 members' credit grades.", no_args_is_help=True)


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name for this process's user
        return "cli"


def find_member(session: Session, member: str, association: str | None) -> Member:
    """MEMBER is the member's id, or with ``--association`` the member number there."""
    if association is not None:
        from gateway.org.service import get_association_by_code

        association_id = get_association_by_code(session, association).id
        found = session.scalar(
            select(Member).where(
                Member.association_id == association_id, Member.member_no == member
            )
        )
        if found is None:
            raise NotFound(
                f"协会 {association} 没有编号为 {member} 的会员",
                f"association {association} has no member number {member!r}",
            )
        return found
    if not member.isdigit():
        raise ValidationFailed(
            f"会员 {member!r} 须为会员 ID，或以 --association 指明协会后给出会员编号",
            f"MEMBER {member!r} must be a member id, or a member number with --association",
            field="member",
        )
    from gateway.members.service import get_member

    return get_member(session, int(member))


@grades_app.command("adjust")
def adjust_command(
    member: Annotated[
        str,
        typer.Argument(metavar="MEMBER", help="Member id (or member number with --association)."),
    ],
    grade: Annotated[str, typer.Option("--grade", help="A grade of the county's table.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")],
    association: Annotated[
        str | None, typer.Option("--association", help="Association code: MEMBER is a number.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who decides (audit log); default cli:<login>.")
    ] = None,
) -> None:
    """Set a member's credit grade between yearly reviews, with a reason; audited."""
    from gateway.grading.ladder import ladder
    from gateway.grading.service import adjust_grade
    from gateway.ledger.service import county_of

    who = actor or _default_actor()
    with cli_session(current_settings()) as session:
        found = find_member(session, member, association)
        before = found.credit_grade
        adjust_grade(session, found.id, grade, reason=reason, actor=who)
        limit_fen = ladder(session, county_of(session, found.association_id).id).limit_of(grade)
        label = f"{found.name}（{found.member_no}，ID {found.id}）"
    if before == grade:
        unchanged = f"{label} 已是 {grade} 级，未作变动 (already grade {grade}; nothing changed)"
        console().print(unchanged)
        return
    console().print(
        f"{label} 信用等级 {before} → {grade}，借款上限 {format_yuan(limit_fen)} 元 "
        f"(credit grade {before} → {grade}, limit {format_yuan(limit_fen)} yuan) by {who}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(grades_app, name="grades")
