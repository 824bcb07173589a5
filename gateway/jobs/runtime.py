"""Building the nightly pipeline from the settings, and structured logs for unattended runs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from gateway.batches.banks import TransportFactory, format_loader, sftp_transport
from gateway.db import make_engine, make_session_factory
from gateway.jobs.pipeline import Nightly, profile_loader
from gateway.payments.config import PaymentsConfig, load_payments_config
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """The fields a log call passed in ``extra`` (step, business date, partition, ...)."""
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_extra_fields(record))
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message key=value ...``: the ``extra`` fields on the same line, so a
    person reading the terminal sees which step, date and partition a line is about."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = " ".join(
            f"{key}={json.dumps(value, ensure_ascii=False, default=str)}"
            if not isinstance(value, str) or not value or any(c.isspace() for c in value)
            else f"{key}={value}"
            for key, value in _extra_fields(record).items()
        )
        if not fields:
            return text
        head, newline, rest = text.partition("\n")  # a traceback stays below the fields
        return f"{head} {fields}{newline}{rest}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        return


def configure_logging(json_logs: bool, level: int = logging.INFO) -> None:
    """Our one stderr handler on the root logger (replacing an earlier one of ours only)."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StderrHandler)]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("paramiko").setLevel(max(level, logging.CRITICAL))
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    # reading the schema's version (every command does) logs Alembic's set-up at INFO: noise,
    # shown only when asked for debugging
    logging.getLogger("alembic").setLevel(level if level <= logging.DEBUG else logging.WARNING)


def build_nightly(
    settings: Settings,
    *,
    transport_factory: TransportFactory = sftp_transport,
    root: Path | None = None,
    engine: Engine | None = None,
    payments: PaymentsConfig | None = None,
) -> tuple[Nightly, Engine]:
    """The pipeline for the configured database and banks; the caller disposes the engine."""
    engine = engine or make_engine(settings.database_url)
    root = root if root is not None else settings.files_root
    payments = payments or load_payments_config(settings.config_dir)
    nightly = Nightly(
        factory=make_session_factory(engine),
        payments=payments,
        cipher=FieldCipher.from_settings(settings, database=engine),
        profile_loader=profile_loader(settings.config_dir, payments, root),
        format_loader=format_loader(settings.config_dir, payments, root),
        transport_factory=transport_factory,
        lease=timedelta(minutes=payments.scheduler.lease_minutes),
        longest_step=timedelta(minutes=payments.scheduler.longest_step_minutes),
        answer_within_banking_days=settings.nightly.answer_within_banking_days,
    )
    return nightly, engine
