"""An account number is unique only at its bank: another county's account at another bank
under the same number shows none of this county's statement lines."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.org import service as org
from gateway.org.models import Association, Bank, County, SpecialAccount
from tests.api.conftest import ClientFor, Seeded


def test_the_same_number_at_another_bank_shows_none_of_our_lines(
    api_sessions: sessionmaker[Session], seeded: Seeded, client_for: ClientFor
) -> None:
    with api_sessions() as session:
        ours = session.get(Association, seeded.world.a.id)
        assert ours is not None
        account = ours.special_account
        bank = session.get(Bank, account.bank_id)
        assert bank is not None
        other_county = session.get(County, seeded.other_county_id)
        assert other_county is not None
        other_bank = org.get_or_create_bank(session, code="obank", name="邻县农商行")
        twin = org.create_special_account(
            session,
            other_county,
            other_bank,
            account_number=account.account_number,
            name="同号专户",
        )
        file = InboundFile(
            bank_code=bank.code,
            name="STMT_20240701.txt",
            remote_path="out/STMT_20240701.txt",
            kind=InboundKind.STATEMENT,
            sha256="0" * 64,
            size=1,
            content=b"-",
            status=InboundStatus.APPLIED,
            business_date=date(2024, 7, 2),
        )
        session.add(file)
        session.flush()
        session.add(
            StatementLine(
                inbound_file_id=file.id,
                bank_code=bank.code,
                account=account.account_number,
                sub_account=ours.sub_account_number,
                dedupe_key="txn:T1",
                booking_date=date(2024, 7, 1),
                amount_fen=33_300,
                credit=True,
                channel="transfer",
                remittance="还款",
            )
        )
        session.commit()
        ours_id, twin_id = account.id, twin.id
        assert isinstance(twin, SpecialAccount)

    mine = client_for("officer").get(f"/api/v1/special-accounts/{ours_id}/statement-lines")
    assert mine.status_code == 200, mine.text
    assert [line["amount_fen"] for line in mine.json()["items"]] == [33_300]
    theirs = client_for("officer_other").get(f"/api/v1/special-accounts/{twin_id}/statement-lines")
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["items"] == []
