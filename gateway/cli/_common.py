"""Helpers the command modules share: settings, sessions and error printing.

:class:`HuzhuGroup` is the root command group: whatever a command raises that a user can act
on — a domain error, a settings mistake, a database not migrated, unreachable or named by a
URL that does not parse — is printed as one line in Chinese and English and exits 1, instead
of a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session
from typer.core import TyperGroup
from typer.exceptions import TyperException

from gateway.db import make_engine, make_session_factory, session_scope
from gateway.errors import ConfigurationError, HuzhuError
from gateway.settings import Settings, load_settings, mask_url, unknown_environment

if TYPE_CHECKING:
    from typer._click.core import Context as ClickContext  # typer's own copy of click

    from gateway.security.fieldcrypt import FieldCipher


def console() -> Console:
    """Standard output, as wide as the terminal (or ``COLUMNS``) is when the command prints."""
    return Console()


def err_console() -> Console:
    """Standard error, sized the same way."""
    return Console(stderr=True)


_DB_NOT_MIGRATED_ZH = "数据库尚未建表或未迁移到最新版本：请先运行 huzhu db upgrade"
_DB_NOT_MIGRATED_EN = "the database has no tables yet or is behind: run `huzhu db upgrade` first"
# what the last current_settings() named, for the database in a failure's message
_database_url: str | None = None


def current_settings() -> Settings:
    """The settings; each ``HUZHU_*`` variable that sets nothing (misspelt?) is named on
    standard error, since the command goes on without it."""
    global _database_url
    settings = load_settings()
    _database_url = settings.database_url
    warn_unknown_environment(settings)
    return settings


def warn_unknown_environment(settings: Settings) -> None:
    for name in unknown_environment(settings, os.environ):
        err_console().print(
            f"[yellow]环境变量 {escape(name)} 不是任何设置项（拼写错误？），已忽略[/yellow] "
            f"(environment variable {escape(name)} sets nothing — misspelt? — and is ignored)"
        )


def require_database(settings: Settings, *, schema: bool = True) -> None:
    """Refuse a SQLite database file that does not exist (instead of creating an empty one
    as a side effect; ``huzhu db upgrade`` creates it) and, with ``schema``, a database whose
    schema is not the one this version's migrations end at: behind (run ``huzhu db
    upgrade``) or at a revision they do not know (upgraded by a newer version)."""
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return  # HuzhuGroup explains it when the engine is made
    except ValueError as exc:  # a port that is not a number, say
        raise ConfigurationError(
            f"数据库地址 database_url 无法识别：{exc}",
            f"database_url is not a usable database URL: {exc}",
        ) from None
    database = url.database
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        path = Path(database).expanduser()
        if not path.exists():
            raise ConfigurationError(
                f"数据库文件不存在：{path}。新库请先运行 huzhu db upgrade 建表；"
                "否则请检查 database_url（HUZHU_DATABASE_URL 或 HUZHU_CONFIG 指向的配置文件）",
                f"database file {path} does not exist: for a new database run `huzhu db upgrade` "
                "first; otherwise check database_url (HUZHU_DATABASE_URL or the HUZHU_CONFIG file)",
                code="database_missing",
            )
    if schema:
        _require_schema(settings)


def _require_schema(settings: Settings) -> None:
    from gateway.migrations import schema_gap

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            gap = schema_gap(conn)
    finally:
        engine.dispose()
    if gap is None:
        return
    where = mask_url(settings.database_url)
    if gap.unknown:
        names = ", ".join(gap.unknown)
        raise ConfigurationError(
            f"数据库（{where}）的结构版本 {names} 不是本版本程序所知的迁移"
            "（已由更新的版本升级？）：请用升级它的那个版本运行，本版本不写入该库",
            f"the database ({where}) has schema revision {names}, which this version's "
            "migrations do not know (upgraded by a newer version?): run the version that "
            "upgraded it; this version does not write to it",
            code="database_schema_unknown",
        )
    at = ", ".join(gap.current) or "（空 empty）"
    raise ConfigurationError(
        f"{_DB_NOT_MIGRATED_ZH}（{where}，当前版本 {at}）",
        f"{_DB_NOT_MIGRATED_EN} ({where}, at {at})",
        code="database_not_migrated",
    )


@contextmanager
def cli_session(settings: Settings) -> Iterator[Session]:
    """A session committing once at the end; a domain error is printed and exits 1."""
    require_database(settings)
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


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: str) -> date:
    """A date option's value: exactly YYYY-MM-DD and a real day (not 20240701, 2024-W31-5 or
    2024-02-30), refused as a bad parameter otherwise."""
    if _DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise typer.BadParameter(
        f"日期应为 YYYY-MM-DD 格式的真实日期：{value!r} / not a date (YYYY-MM-DD): {value!r}"
    )


def _settings_problem(exc: ValidationError) -> tuple[str, str]:
    parts_zh: list[str] = []
    parts_en: list[str] = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc) or "(settings)"
        env = "HUZHU_" + "__".join(part.upper() for part in loc if not part.isdigit())
        shown = error.get("input")
        value = "" if isinstance(shown, dict | list) else f" = {shown!r}"
        reason = str(error["msg"]).removeprefix("Value error, ")  # a rule's own words
        parts_zh.append(f"{name}（环境变量 {env} 或配置文件）{value}：{reason}")
        parts_en.append(f"{name} ({env} or the settings file){value}: {reason}")
    return (
        "设置有误 invalid setting：" + "；".join(parts_zh),
        "invalid setting: " + "; ".join(parts_en),
    )


def _database_problem(exc: DBAPIError) -> tuple[str, str]:
    where = f" ({mask_url(_database_url)})" if _database_url else ""
    orig = exc.orig
    detail = str(orig).strip().splitlines()[0] if orig is not None and str(orig).strip() else ""
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    lowered = detail.lower()
    if (
        "no such table" in lowered
        or "no such column" in lowered
        or code in ("42P01", "42703")
        or ("does not exist" in lowered and ("relation" in lowered or "column" in lowered))
    ):
        return (f"{_DB_NOT_MIGRATED_ZH}{where}", f"{_DB_NOT_MIGRATED_EN}{where} — {detail}")
    if "unable to open database file" in lowered:
        return (
            f"无法打开 SQLite 数据库文件{where}：所在文件夹不存在或无权限",
            f"cannot open the SQLite database file{where}: its folder is missing or not writable",
        )
    if exc.connection_invalidated or "connect" in lowered:
        return (
            f"无法连接数据库{where}：{detail}",
            f"cannot connect to the database{where}: {detail}",
        )
    return (f"数据库出错{where}：{detail}", f"database error{where}: {detail}")


def explain_failure(exc: BaseException) -> tuple[str, str] | None:
    """The Chinese and English lines for a failure a user can act on; None for a bug."""
    if isinstance(exc, HuzhuError):
        return exc.message_zh, exc.message_en
    if isinstance(exc, ValidationError) and exc.title.endswith("Settings"):
        return _settings_problem(exc)
    if isinstance(exc, ArgumentError):
        return (
            f"数据库地址 database_url 无法识别：{exc}",
            f"database_url is not a usable database URL: {exc}",
        )
    if isinstance(exc, DBAPIError):
        return _database_problem(exc)
    return None


class HuzhuGroup(TyperGroup):
    """The root ``huzhu`` group: explained failures become a message and exit 1."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):  # usage errors print themselves
            raise
        except Exception as exc:
            explained = explain_failure(exc)
            if explained is None:
                raise
            zh, en = explained
            err_console().print(f"[red]{escape(zh)}[/red] ({escape(en)})")
            raise typer.Exit(1) from exc
