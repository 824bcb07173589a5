"""``/healthz``, ``/readyz`` (database and each bank's file server) and ``/metrics``."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from adapters.transport.errors import TransportError
from adapters.transport.memory import MemoryTransport
from gateway.api.app import create_app
from gateway.security.fieldcrypt import FieldCipher
from gateway.settings import Settings
from tests.api.conftest import ClientFor, Seeded, file_village_cash


class UnreachableBank(MemoryTransport):
    def ping(self) -> None:
        raise TransportError("connection refused by 127.0.0.1:2222")


def test_readyz_names_the_unreachable_bank(
    api_engine: Engine, field_cipher: FieldCipher, tmp_path: Path
) -> None:
    app = create_app(
        Settings(database_url=str(api_engine.url), field_key_file=tmp_path / "k.key"),
        engine=api_engine,
        cipher=field_cipher,
        bank_transports={"good": MemoryTransport, "down": UnreachableBank},
        console=False,
    )
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["database"]["ok"] is True
    assert checks["bank:good"]["ok"] is True
    assert checks["bank:down"]["ok"] is False
    assert "connection refused" in checks["bank:down"]["detail"]


def test_readyz_reports_an_unmigrated_database_as_not_ready(tmp_path: Path) -> None:
    database = tmp_path / "unmigrated.db"
    database.touch()
    app = create_app(
        Settings(database_url=f"sqlite:///{database}", field_key_file=tmp_path / "k.key"),
        cipher=FieldCipher(bytes(range(32))),
        bank_transports={},
        console=False,
    )
    with TestClient(app) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    (check,) = ready.json()["checks"]
    assert check["name"] == "database"
    assert check["ok"] is False
    assert "huzhu db upgrade" in check["detail"]


@pytest.mark.parametrize(
    ("revision", "says"),
    [
        ("0015_job_run_heartbeat", "huzhu db upgrade"),  # behind: upgrade it
        ("0099_newer_revision", "upgraded by a newer version"),  # ahead: not ours to upgrade
    ],
    ids=["behind", "newer"],
)
def test_readyz_reports_a_database_not_at_the_migrations_head(
    api_engine: Engine, field_cipher: FieldCipher, tmp_path: Path, revision: str, says: str
) -> None:
    with api_engine.begin() as connection:
        connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")
    app = create_app(
        Settings(database_url=str(api_engine.url), field_key_file=tmp_path / "k.key"),
        engine=api_engine,
        cipher=field_cipher,
        bank_transports={},
        console=False,
    )
    with TestClient(app) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    detail = ready.json()["checks"][0]["detail"]
    assert revision in detail
    assert says in detail


def test_metrics_report_queue_depth_by_type_and_http_traffic(
    app: FastAPI,
    client_for: ClientFor,
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
) -> None:
    with api_sessions() as session:
        file_village_cash(session, session.merge(seeded.world.a), tag="m1")
        file_village_cash(session, session.merge(seeded.world.b), tag="m2")
        session.commit()
    client = client_for("officer")
    assert client.get("/api/v1/queue-items").status_code == 200
    text = client.get("/metrics").text
    assert 'huzhu_queue_items{state="open",type="village_cash"} 2.0' in text
    assert "huzhu_http_requests_total" in text
    assert 'route="/api/v1/queue-items",status="200"' in text
