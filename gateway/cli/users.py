"""``huzhu users``: create users with a role and scope, set passwords, disable, issue tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from gateway.auth import credentials
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.cli._common import cli_session, console, current_settings, err_console
from gateway.errors import NotFound
from gateway.org.models import Association, Bank, County

users_app = typer.Typer(help="用户 Users, roles and tokens.", no_args_is_help=True)

ACTOR = "cli"


def _password(value: str | None) -> str:
    if value is not None:
        return value
    entered: str = typer.prompt("密码 Password", hide_input=True, confirmation_prompt=True)
    return entered


@users_app.command("create")
def create(
    username: Annotated[
        str,
        typer.Argument(
            help="Sign-in name: outer spaces are dropped; one differing from another user's "
            "only by case is refused."
        ),
    ],
    role: Annotated[Role, typer.Option(help="Role of the user.")],
    display_name: Annotated[str | None, typer.Option(help="Name shown in the web console.")] = None,
    county: Annotated[str | None, typer.Option(help="County code (county-wide roles).")] = None,
    association: Annotated[
        str | None, typer.Option(help="Association code (treasurer, association auditor).")
    ] = None,
    bank: Annotated[str | None, typer.Option(help="Bank code (bank operator).")] = None,
    can_unmask: Annotated[
        bool, typer.Option("--can-unmask", help="May reveal full card and ID numbers.")
    ] = False,
    password: Annotated[
        str | None,
        typer.Option(help="Password (prompted when omitted; avoid on shared machines)."),
    ] = None,
) -> None:
    """Create a user with a role scoped to a county, an association or a bank."""
    settings = current_settings()
    secret = _password(password)
    with cli_session(settings) as session:
        county_id = association_id = bank_id = None
        if county is not None:
            county_id = session.scalar(select(County.id).where(County.code == county))
            if county_id is None:
                raise NotFound(f"县 {county} 不存在", f"county {county} not found")
        if association is not None:
            association_id = session.scalar(
                select(Association.id).where(Association.code == association)
            )
            if association_id is None:
                raise NotFound(f"协会 {association} 不存在", f"association {association} not found")
        if bank is not None:
            bank_id = session.scalar(select(Bank.id).where(Bank.code == bank))
            if bank_id is None:
                raise NotFound(f"银行 {bank} 不存在", f"bank {bank} not found")
        user = create_user(
            session,
            username=username,
            display_name=display_name or username,
            role=role,
            county_id=county_id,
            association_id=association_id,
            bank_id=bank_id,
            can_unmask=can_unmask,
            actor=ACTOR,
        )
        credentials.set_password(session, user.username, secret, actor=ACTOR)
        console().print(f"已创建用户 created {user.username} ({role.value})")


@users_app.command("password")
def password(
    username: Annotated[str, typer.Argument()],
    password: Annotated[
        str | None, typer.Option(help="New password (prompted if omitted).")
    ] = None,
    revoke_tokens: Annotated[
        bool, typer.Option(help="Revoke the user's bearer tokens too (machine clients).")
    ] = False,
) -> None:
    """Set a user's password; their web sessions end (signed in with the old one). Their
    bearer tokens keep working unless --revoke-tokens."""
    settings = current_settings()
    secret = _password(password)
    with cli_session(settings) as session:
        credentials.set_password(
            session, username, secret, actor=ACTOR, revoke_tokens=revoke_tokens
        )
    ended = "sessions and tokens revoked" if revoke_tokens else "web sessions ended"
    console().print(f"已更新密码 password set for {username}; {ended}")


@users_app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable a user; their sessions and tokens stop working at once."""
    settings = current_settings()
    with cli_session(settings) as session:
        credentials.disable_user(session, username, actor=ACTOR)
    console().print(f"已停用 disabled {username}; sessions and tokens revoked")


@users_app.command("token")
def token(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "api",
    days: Annotated[int | None, typer.Option(min=1, help="Expires after this many days.")] = None,
) -> None:
    """Issue a bearer token for a machine client; it is printed once and never stored."""
    from datetime import timedelta

    settings = current_settings()
    with cli_session(settings) as session:
        issued = credentials.issue_token(
            session,
            username,
            name=name,
            actor=ACTOR,
            lifetime=timedelta(days=days) if days else None,
        )
    err_console().print("请妥善保存，此令牌只显示一次 / store it now: it is shown only once")
    typer.echo(issued)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
