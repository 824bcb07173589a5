"""Alembic environment: the URL comes from the caller or from the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from gateway.db import Base, make_engine
from gateway.models import load_all_models
from gateway.settings import load_settings

config = context.config
load_all_models()
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or load_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # SQLite changes a table by copying it into a new one and dropping the old: with
                # foreign keys enforced, dropping a table other rows refer to fails (the pragma
                # works only outside a transaction). The keys are checked once it is done.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            _run(conn)
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(
                        f"migration left rows whose foreign keys break: {broken[:5]}"
                    )
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_migrations_online()
