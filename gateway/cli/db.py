"""``huzhu db``: create or upgrade the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli._common import console, current_settings, require_database
from gateway.errors import ConfigurationError
from gateway.settings import mask_url

db_app = typer.Typer(help="数据库 Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: head).")] = "head",
) -> None:
    """Create the database or upgrade it to the latest schema (Alembic)."""
    from alembic.util import CommandError

    from gateway.migrations import current_heads
    from gateway.migrations import upgrade as run_upgrade

    settings = current_settings()
    try:
        run_upgrade(settings.database_url, revision)
    except CommandError as exc:  # a revision no shipped migration has, in the database or asked
        raise ConfigurationError(
            f"无法升级数据库 {mask_url(settings.database_url)}：{exc}"
            "（数据库由更新的版本升级过，或所给版本不存在）",
            f"cannot upgrade the database at {mask_url(settings.database_url)}: {exc} (the "
            "database was upgraded by a newer version, or no such revision)",
            code="database_upgrade_refused",
        ) from None
    heads = ", ".join(current_heads(settings.database_url)) or "(empty)"
    console().print(f"数据库已升级 database at {mask_url(settings.database_url)}: {heads}")


@db_app.command("current")
def current() -> None:
    """Print the schema revision the database is at."""
    from gateway.migrations import current_heads

    settings = current_settings()
    require_database(settings, schema=False)
    console().print(", ".join(current_heads(settings.database_url)) or "(empty)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
