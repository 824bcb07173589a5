"""Helpers the command modules share: settings, sessions and error printing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from gateway.db import make_engine, make_session_factory, session_scope
from gateway.errors import HuzhuError
from gateway.settings import Settings, load_settings

if TYPE_CHECKING:
    from gateway.security.fieldcrypt import FieldCipher


def console() -> Console:
    """Standard output, as wide as the terminal (or ``COLUMNS``) is when the command prints."""
    return Console()


def err_console() -> Console:
    """Standard error, sized the same way."""
    return Console(stderr=True)


def current_settings() -> Settings:
    return load_settings()


@contextmanager
def cli_session(settings: Settings) -> Iterator[Session]:
    """A session committing once at the end; a domain error is printed and exits 1."""
    engine = make_engine(settings.database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    except HuzhuError as exc:
        err_console().print(f"[red]{exc.message_zh}[/red] ({exc.message_en})")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()


def field_cipher(settings: Settings, session: Session) -> FieldCipher:
    """The field key for the session's database: a missing key file is created only for a
    database holding nothing encrypted yet (see ``FieldCipher.from_settings``)."""
    from gateway.security.fieldcrypt import FieldCipher

    return FieldCipher.from_settings(settings, database=session.connection())


def parse_date(value: str) -> date:
    """A ``--date`` option's value (YYYY-MM-DD), refused as a bad parameter otherwise."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {value!r}") from None
