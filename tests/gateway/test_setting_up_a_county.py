"""A new operator sets up a county on a fresh database with ``huzhu org``, exactly as the
README's "Setting up a county" shows, down to a member imported and a night reconciled; a
mistyped step is refused in Chinese and English, exits 1 and writes nothing."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from gateway.audit.models import AuditEvent
from gateway.cli import app
from gateway.ledger.models import JournalTransaction
from gateway.members.models import Member
from gateway.org.models import Association, Bank, County, SpecialAccount, Town

README = Path(__file__).resolve().parents[2] / "README.md"
ROSTER = Path(__file__).parent / "data" / "members_good.csv"
PASSWORD = "good-password-9"


def _readme_setup_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Setting up a county", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty SQLite file the commands run against, from ``tmp_path`` as working directory."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("HUZHU_DATABASE_URL", url)
    monkeypatch.setenv("HUZHU_FIELD_KEY_FILE", str(tmp_path / "field.key"))
    monkeypatch.setenv("COLUMNS", "240")
    monkeypatch.chdir(tmp_path)
    return url


def _huzhu(line: str, *, input: str | None = None) -> Result:
    return CliRunner().invoke(app, shlex.split(line)[1:], input=input)


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return {
                model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (
                    County,
                    Town,
                    Bank,
                    SpecialAccount,
                    Association,
                    AuditEvent,
                    JournalTransaction,
                )
            }
    finally:
        engine.dispose()


def test_a_new_county_is_set_up_as_the_readme_shows_and_its_first_night_reconciles(
    fresh_db: str, tmp_path: Path
) -> None:
    lines = _readme_setup_lines()
    assert [line.split()[1:3] for line in lines[:2]] == [["db", "upgrade"], ["org", "county"]]
    # the roster the README imports: the members of the association's village
    roster = next(line for line in lines if line.startswith("huzhu members import")).split()[3]
    (tmp_path / roster).write_bytes(ROSTER.read_bytes())

    outputs = []
    for line in lines:
        prompted = f"{PASSWORD}\n{PASSWORD}\n" if line.startswith("huzhu users create") else None
        result = _huzhu(line, input=prompted)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        outputs.append(result.output)
    said = "\n".join(outputs)

    assert "已创建县 created county MY 蒙阴县" in said
    assert "借款上限 loan cap 30000.00" in said  # the configured policy, as the demo county's
    assert "已创建用户 created reviewer (county_reviewer)" in said
    assert "已导入 5 名会员到协会 MY-001" in said
    # the money it starts with, booked into its sub-account
    shown = outputs[lines.index("huzhu capital show --association MY-001")]
    assert "县级财政资金 county" in shown
    assert "200,000.00" in shown
    assert "会员入会互助金 member_deposit" in shown
    assert "91402001010001: 200,500.00 元" in shown
    listed = outputs[lines.index("huzhu org list")]
    for shown in ("岱崮镇", "rcb 蒙阴农商银行", "9140200101", "MY-001", "91402001010001"):
        assert shown in listed
    # the night reconciled: no statement from the bank yet, so a statement gap to look at
    assert "9140200101" in outputs[-1]
    assert "对账单缺失" in outputs[-1]

    engine = create_engine(fresh_db)
    with Session(engine) as session:
        member_of = session.scalars(
            select(Association.code).join(Member, Member.association_id == Association.id)
        ).all()
        assert set(member_of) == {"MY-001"}
        assert len(member_of) == 5
        actions = set(session.scalars(select(AuditEvent.action)))
        assert {
            "county.create",
            "town.create",
            "bank.create",
            "special_account.create",
            "association.create",
        } <= actions
        assert set(
            session.scalars(select(AuditEvent.actor).where(AuditEvent.action == "town.create"))
        ) == {"cli"}
    engine.dispose()
    assert _huzhu("huzhu audit verify").exit_code == 0


@pytest.fixture(scope="module")
def set_up(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A county set up once (two towns, a county-level and a town-level special account, one
    association), copied for each test that refuses a step after it."""
    where = tmp_path_factory.mktemp("set-up")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HUZHU_DATABASE_URL", f"sqlite:///{where / 'fresh.db'}")
        patch.setenv("HUZHU_FIELD_KEY_FILE", str(where / "field.key"))
        for step in SETUP:
            done = _huzhu(step)
            assert done.exit_code == 0, f"{step}\n{done.output}"
    return where / "fresh.db"


SETUP = [
    "huzhu db upgrade",
    "huzhu org county create MY --name 蒙阴县 --fund-office-name 蒙阴县办",
    "huzhu org town create --county MY --code DG --name 岱崮镇",
    "huzhu org town create --county MY --code YD --name 野店镇",
    "huzhu org bank create rcb --name 蒙阴农商银行",
    "huzhu org special-account create --county MY --bank rcb --account-number 91402 --name 专户",
    "huzhu org special-account create --county MY --bank rcb --account-number 91403 --name 野店"
    " --town YD",
    "huzhu org association create --county MY --town DG --code MY-001 --name 甲村协会"
    " --special-account 91402 --sub-account-number 914020001 --pilot-level provincial"
    " --start-date 2023-01-01",
]

ASSOCIATION = (
    "huzhu org association create --county MY --town DG --code {code} --name 乙村协会"
    " --special-account {account} --sub-account-number {sub} --pilot-level municipal"
    " --start-date {start}"
)


@pytest.mark.parametrize(
    ("line", "zh", "en"),
    [
        (
            "huzhu org county create MY --name 又一县 --fund-office-name 办",
            "县代码 MY 已存在",
            "county MY already exists",
        ),
        (
            "huzhu org county create LY --name 临沂 --fund-office-name 办 --loan-cap 40000",
            "单笔借款上限（--loan-cap）不符合规定",
            "a loan is at most 30,000 yuan",
        ),
        (
            "huzhu org county create LY --name 临沂 --fund-office-name 办 --loan-cap 2万",
            "不是金额",
            "not an amount in yuan",
        ),
        (
            "huzhu org county create LY --name 临沂 --fund-office-name 办 --notice-days 3650000",
            "公示天数（--notice-days）不符合规定",
            "less than or equal to 90",
        ),
        ("huzhu org town create --county XX --code DG --name 镇", "县 XX 不存在", "not found"),
        ("huzhu org town create --county MY --code ' ' --name 镇", "乡镇代码不能为空", "empty"),
        (
            "huzhu org town create --county MY --code DG --name 另一镇",
            "县 MY 已有乡镇代码 DG",
            "already has a town DG",
        ),
        ("huzhu org bank create rcb --name 又一行", "银行代码 rcb 已存在", "already exists"),
        (
            "huzhu org special-account create --county MY --bank nob --account-number 1 --name 户",
            "银行 nob 不存在",
            "bank nob not found",
        ),
        (
            "huzhu org special-account create --county MY --bank rcb --account-number 91402"
            " --name 户",
            "银行 rcb 已有专户账号 91402",
            "already has a special account 91402",
        ),
        (
            ASSOCIATION.format(code="MY-001", account="91402", sub="914020002", start="2023-01-01"),
            "协会代码 MY-001 已存在",
            "association MY-001 already exists",
        ),
        (
            ASSOCIATION.format(code="MY-002", account="91402", sub="914020001", start="2023-01-01"),
            "子账户 914020001 已属于协会 MY-001",
            "already belongs to association MY-001",
        ),
        (
            ASSOCIATION.format(code="MY-002", account="99999", sub="914020002", start="2023-01-01"),
            "县 MY 没有专户 99999",
            "has no special account 99999",
        ),
        (
            ASSOCIATION.format(code="MY-002", account="91403", sub="914030001", start="2023-01-01"),
            "是另一乡镇的镇级专户",
            "another town's town-level account",
        ),
        (
            ASSOCIATION.format(code="MY-002", account="91402", sub="914020002", start="2023/01/01"),
            "不是日期（应为 YYYY-MM-DD）",
            "--start-date is not a date (YYYY-MM-DD): 2023/01/01",
        ),
        (
            ASSOCIATION.format(code="MY-002", account="91402", sub="914020002", start="20230101"),
            "不是日期（应为 YYYY-MM-DD）",
            "--start-date is not a date (YYYY-MM-DD): 20230101",
        ),
    ],
    ids=[
        "county-taken",
        "cap-above-30000",
        "cap-not-yuan",
        "notice-days-beyond-a-quarter",
        "unknown-county",
        "blank-town-code",
        "town-taken",
        "bank-taken",
        "unknown-bank",
        "account-number-taken",
        "association-taken",
        "sub-account-taken",
        "unknown-special-account",
        "another-towns-account",
        "date-not-iso",
        "date-without-dashes",
    ],
)
def test_a_mistyped_setup_step_is_refused_in_chinese_and_english_and_writes_nothing(
    set_up: Path, fresh_db: str, tmp_path: Path, line: str, zh: str, en: str
) -> None:
    _refused_on_the_set_up_county(set_up, fresh_db, tmp_path, line, zh, en)


def _refused_on_the_set_up_county(
    set_up: Path, fresh_db: str, tmp_path: Path, line: str, zh: str, en: str
) -> None:
    """``line``, run on a copy of the set-up county, exits 1 saying ``zh`` and ``en`` and
    writes nothing (no org row, audit event or journal entry)."""
    shutil.copyfile(set_up, tmp_path / "fresh.db")
    before = _counts(fresh_db)

    refused = _huzhu(line)

    assert refused.exit_code == 1, refused.output
    flat = " ".join(refused.output.split())
    assert zh in flat
    assert en in flat
    assert _counts(fresh_db) == before


def test_an_empty_database_lists_nothing_and_says_where_to_start(fresh_db: str) -> None:
    assert _huzhu("huzhu db upgrade").exit_code == 0
    listed = _huzhu("huzhu org list")
    assert listed.exit_code == 0, listed.output
    assert "huzhu org county create" in listed.output
    unknown = _huzhu("huzhu org list --county NOPE")
    assert unknown.exit_code == 1
    assert "县 NOPE 不存在" in unknown.output


@pytest.mark.parametrize(
    ("line", "zh", "en"),
    [
        (
            "huzhu capital contribute --association MY-001 --source county --amount 12.345"
            " --on 2024-06-03",
            "金额应为元",
            "--amount is not an amount in yuan",
        ),
        (
            "huzhu capital contribute --association MY-404 --source county --amount 100"
            " --on 2024-06-03",
            "MY-404",
            "MY-404",
        ),
        (
            "huzhu capital contribute --association MY-001 --source county --amount 100"
            " --on 2999-01-01",
            "到账日期 2999-01-01 晚于今天",
            "--on 2999-01-01 is after today",
        ),
        (
            "huzhu capital contribute --association MY-001 --source county"
            " --amount 92233720368547758 --on 2024-06-03",
            "金额过大：单笔不超过 10,000,000,000.00 元",
            "one receipt is at most 10,000,000,000.00 yuan",
        ),
        (
            "huzhu capital deposit --association MY-001 --member 9999 --amount 100 --on 2024-06-03",
            "协会 MY-001 没有编号为 9999 的会员",
            "association MY-001 has no member numbered 9999",
        ),
    ],
    ids=[
        "amount-below-a-fen",
        "unknown-association",
        "received-after-today",
        "amount-beyond-any-receipt",
        "unknown-member",
    ],
)
def test_money_that_cannot_be_booked_is_refused_and_books_nothing(
    set_up: Path, fresh_db: str, tmp_path: Path, line: str, zh: str, en: str
) -> None:
    _refused_on_the_set_up_county(set_up, fresh_db, tmp_path, line, zh, en)


def test_a_member_deposit_goes_through_deposit_not_contribute(set_up: Path) -> None:
    refused = _huzhu(
        "huzhu capital contribute --association MY-001 --source member_deposit --amount 100"
        " --on 2024-06-03"
    )
    assert refused.exit_code == 2
    unboxed = " ".join(refused.output.replace("│", " ").split())
    assert "member deposits: huzhu capital deposit" in unboxed
