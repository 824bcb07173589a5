"""Alembic migrations, shipped inside the package. Use :func:`upgrade` or ``huzhu db upgrade``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, inspect, text

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic configuration for ``url`` (or an open ``connection``); no ini file needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def current_heads(url: str) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    from gateway.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()


@cache
def head_revisions() -> tuple[str, ...]:
    """The revisions the shipped migrations end at (what ``huzhu db upgrade`` reaches)."""
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


@dataclass(frozen=True)
class SchemaGap:
    """How the connected database's schema stands apart from the shipped migrations' head:
    the revisions it is stamped with (none: not created) and those of them no shipped
    migration has (a newer version wrote them; none: it is only behind)."""

    current: tuple[str, ...]
    unknown: tuple[str, ...]


def schema_gap(connection: Connection) -> SchemaGap | None:
    """The connected database's :class:`SchemaGap`; None when it is at the head."""
    current = schema_revisions(connection)
    if current == head_revisions():
        return None
    return SchemaGap(current, tuple(unknown_revisions(current)))


def schema_problem(connection: Connection) -> str | None:
    """Why the connected database's schema is not the shipped migrations' head, in words;
    None when it is."""
    gap = schema_gap(connection)
    if gap is None:
        return None
    if not gap.current:
        return "schema not created (no migrations applied): run huzhu db upgrade"
    if gap.unknown:
        return (
            f"schema at {', '.join(gap.unknown)}, which this version's migrations do not know "
            "(upgraded by a newer version?): run the version that upgraded it"
        )
    return (
        f"schema at {', '.join(gap.current)}, migrations' head is "
        f"{', '.join(head_revisions())}: run huzhu db upgrade"
    )


def schema_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions the connected database is stamped with, sorted (empty: none applied);
    read from Alembic's version table directly, without Alembic's log lines."""
    if not inspect(connection).has_table("alembic_version"):
        return ()
    return tuple(
        sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    )


def unknown_revisions(revisions: tuple[str, ...]) -> list[str]:
    """The revisions among ``revisions`` no shipped migration has (a newer version's)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    scripts = ScriptDirectory.from_config(alembic_config())
    unknown: list[str] = []
    for revision in revisions:
        try:
            scripts.get_revision(revision)
        except CommandError:
            unknown.append(revision)
    return unknown
