"""Member import: a good CSV and XLSX land whole; each broken file beside them is refused
whole with exactly the row errors in its ``.expected.json``; nothing is half-imported."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from gateway.audit.models import AuditEvent
from gateway.cli import app
from gateway.members import service as members
from gateway.members.importer import ImportRefused, import_members
from gateway.members.models import Member
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World, WorldFactory

DATA = Path(__file__).parent / "data"
BROKEN = sorted(
    p.name for p in DATA.glob("members_*") if p.with_name(p.name + ".expected.json").exists()
)
GOOD = ["members_good.csv", "members_good.xlsx"]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_every_broken_file_has_a_golden_report() -> None:
    inputs = {p.name for p in DATA.glob("members_*") if not p.name.endswith(".json")}
    assert set(BROKEN) == inputs - set(GOOD)
    assert len(BROKEN) >= 6


@pytest.mark.parametrize("name", BROKEN)
def test_broken_file_is_refused_whole_with_row_errors(
    make_world: WorldFactory, session: Session, cipher: FieldCipher, name: str
) -> None:
    world = make_world(members=0)
    expected = json.loads((DATA / f"{name}.expected.json").read_text(encoding="utf-8"))
    events_before = _count(session, AuditEvent)
    with pytest.raises(ImportRefused) as refused:
        import_members(session, cipher, DATA / name, world.a.code, joined_on=date(2024, 1, 1))
    assert [e.as_dict() for e in refused.value.errors] == expected["errors"]
    assert "整个文件未导入" in refused.value.message_zh
    session.rollback()
    assert _count(session, Member) == 0
    assert _count(session, AuditEvent) == events_before


@pytest.mark.parametrize("name", GOOD)
def test_good_file_registers_every_member(
    make_world: WorldFactory, session: Session, cipher: FieldCipher, name: str
) -> None:
    world = make_world(members=0)
    imported = import_members(
        session, cipher, DATA / name, world.a.code, joined_on=date(2024, 1, 1)
    )
    session.commit()
    rows = (DATA / name).read_bytes()
    assert len(imported) == (5 if name.endswith(".csv") else 4)
    first = imported[0]
    clear_card = members.card_number(session, cipher, first.id)
    assert members.find_by_card(session, cipher, clear_card) == first
    assert members.view(first).card_masked == f"{clear_card[:4]} **** **** {clear_card[-4:]}"
    assert first.association_id == world.a.id
    assert first.joined_on == date(2023, 3, 1)
    if name.endswith(".csv"):
        assert clear_card.encode() in rows  # the number came from the file...
    raw = session.execute(select(Member.card_cipher, Member.resident_id_cipher)).all()
    for card_blob, id_blob in raw:  # ...but the database never holds it in clear
        assert clear_card.encode() not in card_blob
        assert clear_card.encode() not in id_blob


def test_members_already_registered_refuse_the_file(
    make_world: WorldFactory, session: Session, cipher: FieldCipher
) -> None:
    world = make_world(members=0)
    import_members(session, cipher, DATA / "members_good.csv", world.a.code, joined_on=date.today())
    session.commit()
    with pytest.raises(ImportRefused) as refused:
        import_members(
            session, cipher, DATA / "members_good.csv", world.b.code, joined_on=date.today()
        )
    reasons = {(e.row, e.column, e.reason) for e in refused.value.errors}
    for row in range(2, 7):
        assert (row, "惠农卡号", "卡号已登记 / card already registered") in reasons
        assert (row, "身份证号", "身份证号已登记 / resident ID already registered") in reasons
    session.rollback()
    assert _count(session, Member) == 5


def test_import_command_reports_rows_and_exits_nonzero(
    make_world: WorldFactory,
    session: Session,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world(members=0)
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    runner = CliRunner()
    bad = runner.invoke(
        app,
        ["members", "import", str(DATA / "members_bad_phone.csv"), "--association", world.a.code],
    )
    assert bad.exit_code == 1
    assert "2345678901" in bad.output
    assert "nothing imported" in bad.output
    good = runner.invoke(
        app, ["members", "import", str(DATA / "members_good.xlsx"), "--association", world.a.code]
    )
    assert good.exit_code == 0, good.output
    assert "已导入 4 名会员" in good.output
    session.expire_all()
    assert _count(session, Member) == 4


def test_import_into_a_database_with_cards_refuses_to_make_a_new_key(
    world: World,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run from another folder with the key file missing: the members already imported are
    under a key, so no second key is made and nothing is imported."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUZHU_DATABASE_URL", db_url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "var" / "field.key"))
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(
        app, ["members", "import", str(DATA / "members_good.xlsx"), "--association", world.a.code]
    )
    assert result.exit_code == 1
    assert "restore that key file" in result.output
    assert "请从备份恢复" in result.output
    assert not (tmp_path / "var" / "field.key").exists()
