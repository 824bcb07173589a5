"""A bank file or batch whose name holds Chinese characters, or a double quote, downloads
(200) under its own name: ``filename*=UTF-8''…`` (RFC 6266) with a plain ASCII fallback, the
quote unable to end the header's parameter early."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import unquote

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from adapters.records import Direction
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.org.models import Association
from tests.api.conftest import ClientFor, Seeded

NAMES = ["DZ_蒙阴_20240701.txt", 'DZ_a";x=y.txt', "DZ_100%_a\\b.txt", "DZ_plain.txt"]


def assert_named(response: httpx.Response, name: str) -> None:
    assert response.status_code == 200, response.text
    header = response.headers["content-disposition"]
    plain = re.fullmatch(
        r'attachment; filename="([ !#-\[\]-~]*)"; filename\*=UTF-8\'\'(\S+)', header
    )
    assert plain is not None, header
    assert unquote(plain.group(2), errors="strict") == name
    if name.isascii() and not set(name) & set('"\\%'):
        assert plain.group(1) == name


def test_bank_files_and_batches_with_any_name_download(
    api_sessions: sessionmaker[Session], seeded: Seeded, client_for: ClientFor
) -> None:
    files: dict[str, int] = {}
    batches: dict[str, int] = {}
    with api_sessions() as session:
        ours = session.get(Association, seeded.world.a.id)
        assert ours is not None
        for n, name in enumerate(NAMES):
            item = InboundFile(
                bank_code="tbank",
                name=name,
                remote_path=f"out/{name}",
                kind=InboundKind.RESULT,
                sha256=str(n) * 64,
                size=1,
                content=b"-",
                status=InboundStatus.QUARANTINED,
                reason="r",
                business_date=date(2024, 7, 1),
            )
            batch = PaymentBatch(
                bank_code="tbank",
                special_account_id=ours.special_account_id,
                direction=Direction.DISBURSEMENT,
                business_date=date(2024, 7, 1),
                sequence=n + 1,
                message_id=f"DFTBANK2024070100{n}",
                file_name=name,
                status=BatchStatus.SENT,
                line_count=1,
                total_fen=400_000,
                content=b"-",
                sha256=str(n) * 64,
            )
            session.add_all([item, batch])
            session.flush()
            files[name], batches[name] = item.id, batch.id
        session.commit()
    for user in ("officer", "bank_op"):
        client: TestClient = client_for(user)
        for name in NAMES:
            assert_named(client.get(f"/api/v1/bank-files/{files[name]}/content"), name)
            assert_named(client.get(f"/api/v1/batches/{batches[name]}/content"), name)
