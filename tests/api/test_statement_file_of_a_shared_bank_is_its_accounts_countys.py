"""Two counties hold special accounts at one bank: a statement file is the county's whose
account its lines report. The other county neither lists, reads nor downloads it (the file
holds counterparties' card numbers in clear), and its follow-ups are not the other county's.
A file of that shared bank whose account is not known (quarantined before any line was read)
is shown to the administrator only; a file of a bank only one county uses is that county's."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus, StatementLine
from gateway.org import service as org
from gateway.org.models import Association, Bank, County
from gateway.payments import service as payments
from gateway.payments.models import FollowUpKind
from tests.api.conftest import ClientFor, PostgresApi, Seeded

CARD = "6217001234561234"


@dataclass
class Files:
    theirs: int  # applied, its lines report the other county's account at our bank
    ours: int  # applied, its lines report our account at the same bank
    unknown: int  # quarantined at the shared bank, no line read
    other_bank: int  # quarantined at the bank only the other county uses
    unknown_follow_up: int
    theirs_follow_up: int


def statement_file(
    session: Session, bank_code: str, name: str, account: str | None, status: InboundStatus
) -> int:
    content = f"账号|日期|金额|对方账号|对方户名\n{account or '?'}|20240701|5000.00|{CARD}|李四\n"
    raw = content.encode("gb18030")
    item = InboundFile(
        bank_code=bank_code,
        name=name,
        remote_path=f"out/{name}",
        kind=InboundKind.STATEMENT,
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        content=raw,
        status=status,
        reason="文件格式错误 malformed: line 2" if status is InboundStatus.QUARANTINED else None,
        business_date=date(2024, 7, 1),
    )
    session.add(item)
    session.flush()
    if account is not None:
        session.add(
            StatementLine(
                inbound_file_id=item.id,
                bank_code=bank_code,
                account=account,
                sub_account=None,
                dedupe_key=f"k-{name}",
                booking_date=date(2024, 7, 1),
                amount_fen=500_000,
                credit=True,
                channel="transfer",
                counterparty_account=CARD,
                counterparty_name="李四",
                remittance="还款",
            )
        )
    return item.id


def file_follow_up(session: Session, file_id: int) -> int:
    item = payments.follow_up(
        session,
        FollowUpKind.FILE_QUARANTINED,
        business_date=date(2024, 7, 1),
        message_zh="银行来文已隔离",
        message_en="bank file quarantined",
        inbound_file_id=file_id,
    )
    session.flush()
    return item.id


def make_files(sessions: sessionmaker[Session], seeded: Seeded) -> Files:
    with sessions() as session:
        ours = session.get(Association, seeded.world.a.id)
        other = session.get(Association, seeded.other.id)
        assert ours is not None
        assert other is not None
        bank = session.get(Bank, ours.special_account.bank_id)
        other_county = session.get(County, seeded.other_county_id)
        assert bank is not None
        assert other_county is not None
        org.create_special_account(
            session, other_county, bank, account_number="7700002", name="邻县在本行的专户"
        )
        theirs = statement_file(
            session, bank.code, "STMT_7700002_20240701.txt", "7700002", InboundStatus.APPLIED
        )
        our_account = ours.special_account.account_number
        mine = statement_file(
            session, bank.code, "STMT_OURS_20240701.txt", our_account, InboundStatus.APPLIED
        )
        unknown = statement_file(
            session, bank.code, "STMT_BROKEN_20240701.txt", None, InboundStatus.QUARANTINED
        )
        other_bank = statement_file(
            session,
            other.special_account.bank.code,
            "STMT_OBANK_20240701.txt",
            None,
            InboundStatus.QUARANTINED,
        )
        files = Files(
            theirs=theirs,
            ours=mine,
            unknown=unknown,
            other_bank=other_bank,
            unknown_follow_up=file_follow_up(session, unknown),
            theirs_follow_up=file_follow_up(session, theirs),
        )
        session.commit()
        return files


def listed(client: TestClient) -> set[int]:
    response = client.get("/api/v1/bank-files?limit=500")
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def follow_ups(client: TestClient) -> set[int]:
    response = client.get("/api/v1/follow-ups?state=all&limit=500")
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def sees(client: TestClient, file_id: int) -> bool:
    read = client.get(f"/api/v1/bank-files/{file_id}")
    download = client.get(f"/api/v1/bank-files/{file_id}/content")
    assert read.status_code in (200, 404), read.text
    assert download.status_code == read.status_code, download.text
    if download.status_code == 200:
        assert CARD.encode() in download.content
    return read.status_code == 200 and file_id in listed(client)


def check(files: Files, client: Callable[[str], TestClient]) -> None:
    officer, bank_op, officer_other = client("officer"), client("bank_op"), client("officer_other")
    admin = client("admin")

    # the other county's statement at our bank: not ours to list, read or download
    for ours in (officer, bank_op):
        assert files.theirs not in listed(ours)
        assert not sees(ours, files.theirs)
    assert sees(officer_other, files.theirs)
    # ours is ours, not theirs
    assert sees(officer, files.ours)
    assert sees(bank_op, files.ours)
    assert not sees(officer_other, files.ours)
    # a file of the shared bank whose account nobody knows: the administrator's alone
    for user in (officer, bank_op, officer_other):
        assert not sees(user, files.unknown)
    assert sees(admin, files.unknown)
    # a file of a bank only the other county uses is that county's
    assert sees(officer_other, files.other_bank)
    assert not sees(officer, files.other_bank)

    # follow-ups about the files follow the files
    assert files.theirs_follow_up not in follow_ups(officer)
    assert officer.get(f"/api/v1/follow-ups/{files.theirs_follow_up}").status_code == 404
    assert files.theirs_follow_up in follow_ups(officer_other)
    assert files.unknown_follow_up not in follow_ups(officer)
    assert files.unknown_follow_up not in follow_ups(officer_other)
    assert officer.get(f"/api/v1/follow-ups/{files.unknown_follow_up}").status_code == 404
    assert {files.unknown_follow_up, files.theirs_follow_up} <= follow_ups(admin)

    # reapplying follows the same rule
    note = {"note": "银行已重发 bank sent it again"}
    for user in (officer, officer_other):
        refused = user.post(f"/api/v1/bank-files/{files.unknown}/reapply", json=note)
        assert refused.status_code == 404, refused.text
    assert admin.post(f"/api/v1/bank-files/{files.unknown}/reapply", json=note).status_code == 200


def test_a_statement_file_is_seen_by_its_accounts_county_only(
    api_sessions: sessionmaker[Session], seeded: Seeded, client_for: ClientFor
) -> None:
    check(make_files(api_sessions, seeded), client_for)


@pytest.mark.postgres
def test_a_statement_file_is_seen_by_its_accounts_county_only_on_postgres(
    postgres_api: PostgresApi,
) -> None:
    check(make_files(postgres_api.sessions, postgres_api.seeded), postgres_api.client)
