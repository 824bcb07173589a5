"""Two counties hold special accounts at one bank: a file answering one county's batch is that
county's alone; the other county neither lists, reads, downloads nor reapplies it."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from adapters.records import Direction
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.org import service as org
from gateway.org.models import Association, Bank, County
from tests.api.conftest import ClientFor, Seeded


def test_a_file_answering_our_batch_is_not_the_other_countys(
    api_sessions: sessionmaker[Session], seeded: Seeded, client_for: ClientFor
) -> None:
    with api_sessions() as session:
        ours = session.get(Association, seeded.world.a.id)
        assert ours is not None
        bank = session.get(Bank, ours.special_account.bank_id)
        other_county = session.get(County, seeded.other_county_id)
        assert bank is not None
        assert other_county is not None
        # the other county opens an account at our bank too
        org.create_special_account(
            session, other_county, bank, account_number="7700002", name="邻县在本行的专户"
        )
        batch = PaymentBatch(
            bank_code=bank.code,
            special_account_id=ours.special_account_id,
            direction=Direction.DISBURSEMENT,
            business_date=date(2024, 7, 1),
            sequence=1,
            message_id="DFTBANK20240701001",
            file_name="DF_TBANK_20240701_001.txt",
            status=BatchStatus.SENT,
            line_count=1,
            total_fen=400_000,
            content=b"-",
            sha256="1" * 64,
        )
        session.add(batch)
        session.flush()
        answer = InboundFile(
            bank_code=bank.code,
            name="RESULT_DFTBANK20240701001_1.txt",
            remote_path="out/RESULT_DFTBANK20240701001_1.txt",
            kind=InboundKind.RESULT,
            sha256="2" * 64,
            size=1,
            content=b"-",
            status=InboundStatus.QUARANTINED,
            reason="文件格式错误 malformed: line 1",
            business_date=date(2024, 7, 2),
            batch_id=batch.id,
        )
        session.add(answer)
        session.commit()
        file_id = answer.id

    officer = client_for("officer")
    assert officer.get(f"/api/v1/bank-files/{file_id}").status_code == 200
    assert file_id in [f["id"] for f in officer.get("/api/v1/bank-files").json()["items"]]

    other = client_for("officer_other")
    assert file_id not in [f["id"] for f in other.get("/api/v1/bank-files").json()["items"]]
    assert other.get(f"/api/v1/bank-files/{file_id}").status_code == 404
    assert other.get(f"/api/v1/bank-files/{file_id}/content").status_code == 404
    reapplied = other.post(f"/api/v1/bank-files/{file_id}/reapply", json={"note": "重新处理"})
    assert reapplied.status_code == 404
