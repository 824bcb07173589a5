"""``huzhu db``: create or upgrade the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli._common import console, current_settings, require_database
from gateway.settings import mask_url

db_app = typer.Typer(help="数据库 Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: head).")] = "head",
) -> None:
    """Create the database or upgrade it to the latest schema (Alembic)."""
    from gateway.migrations import current_heads
    from gateway.migrations import upgrade as run_upgrade

    settings = current_settings()
    run_upgrade(settings.database_url, revision)
    heads = ", ".join(current_heads(settings.database_url)) or "(empty)"
    console().print(f"数据库已升级 database at {mask_url(settings.database_url)}: {heads}")


@db_app.command("current")
def current() -> None:
    """Print the schema revision the database is at."""
    from gateway.migrations import current_heads

    settings = current_settings()
    require_database(settings)
    console().print(", ".join(current_heads(settings.database_url)) or "(empty)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
