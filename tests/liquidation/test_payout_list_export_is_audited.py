"""``huzhu liquidation payout-list`` writes members' card numbers in clear, so each export
is an audit event naming who exported, the liquidation and the members whose cards the file
holds; the audit chain still verifies afterwards, and a list that could not be written
leaves no event."""

from __future__ import annotations

import base64
import csv
import getpass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.audit.models import AuditEvent
from gateway.audit.service import association_chain, verify
from gateway.capital.service import record_member_deposit
from gateway.cli import app
from gateway.liquidation.models import Liquidation
from gateway.members.service import card_number
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World

CIPHER = FieldCipher(bytes(range(32)))


@pytest.fixture
def ready(
    small_world: World, liq_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> World:
    """Two members with deposits, the association dissolved up to its payouts requested."""
    for member, amount in zip(small_world.members_a[:2], (8_800, 5_000), strict=True):
        record_member_deposit(
            liq_session, member_id=member.id, amount_fen=amount, received_on=date(2024, 7, 1)
        )
    liq_session.commit()
    liq_session.close()
    key = tmp_path / "field.key"
    key.write_text(base64.b64encode(bytes(range(32))).decode())
    monkeypatch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{tmp_path / 'huzhu.db'}")
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(key))
    run("liquidation", "start", "--association", "TC-1", "--reason", "撤销",
        "--actor", "县办", "--on", "2024-07-10")  # fmt: skip
    run("liquidation", "close-books", "--association", "TC-1", "--actor", "县办")
    run("liquidation", "name-account", "--association", "TC-1", "--level",
        "central_provincial", "--account", "9100001", "--name", "县财政专户",
        "--actor", "县办")  # fmt: skip
    run("liquidation", "request-payouts", "--association", "TC-1", "--actor", "县办")
    return small_world


def run(*args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def _exports(session: Session, world: World) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.chain == association_chain(world.a.id),
                AuditEvent.action == "liquidation.payout_list",
            )
            .order_by(AuditEvent.seq)
        )
    )


def test_the_export_names_the_actor_the_liquidation_and_the_members(
    ready: World, liq_session: Session, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "payouts.csv"
    run("liquidation", "payout-list", "--association", "TC-1", "--out", str(target),
        "--actor", "县办张会计")  # fmt: skip

    with target.open(encoding="utf-8-sig") as handle:
        cards_written = {row[2] for row in list(csv.reader(handle))[1:]}
    members = ready.members_a[:2]
    assert {card_number(liq_session, CIPHER, m.id) for m in members} <= cards_written

    (event,) = _exports(liq_session, ready)
    liquidation = liq_session.scalars(select(Liquidation)).one()
    assert event.actor == "县办张会计"
    assert event.object_type == "liquidation"
    assert event.object_id == str(liquidation.id)
    payload = event.payload
    assert payload["association_id"] == ready.a.id
    assert payload["member_ids"] == sorted(m.id for m in members)
    assert payload["written_to"] == str(target.resolve())
    assert verify(liq_session).ok
    run("audit", "verify")


def test_each_export_is_recorded_and_the_actor_defaults_to_the_login(
    ready: World, liq_session: Session, tmp_path: Path
) -> None:
    target = tmp_path / "payouts.csv"
    run("liquidation", "payout-list", "--association", "TC-1", "--out", str(target))
    run("liquidation", "payout-list", "--association", "TC-1", "--out", str(target))
    events = _exports(liq_session, ready)
    assert len(events) == 2
    assert {e.actor for e in events} == {f"cli:{getpass.getuser()}"}
    assert verify(liq_session).ok


def test_a_list_that_cannot_be_written_leaves_no_event(
    ready: World, liq_session: Session, tmp_path: Path
) -> None:
    occupied = tmp_path / "a_folder"
    occupied.mkdir()
    result = CliRunner().invoke(
        app, ["liquidation", "payout-list", "--association", "TC-1", "--out", str(occupied)]
    )
    assert result.exit_code != 0
    assert occupied.is_dir()
    assert _exports(liq_session, ready) == []
