"""``huzhu grades adjust MEMBER --grade G --reason TEXT``: the county adjusts a member's
credit grade between yearly reviews, by member id or by member number with ``--association``;
audited with who and why; a grade outside the county's table, a blank reason or a member it
cannot find refused with exit 1 and what is wrong. The API is tested in
tests/api/test_credit_grade_adjustment.py."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.audit.models import AuditEvent
from gateway.cli import app as cli
from gateway.members.models import Member
from tests.settle_support import Settle, cli_environment, settle_in

ACTION = "member.credit_grade_adjust"


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def cli_env(settle: Settle, tmp_path: Path) -> dict[str, str]:
    return cli_environment(settle, tmp_path)


def cli_grade(settle: Settle, member_id: int) -> str:
    member = settle.fresh().get(Member, member_id)
    assert member is not None
    return member.credit_grade


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["grades", "adjust", *args], env=env, terminal_width=240)
    return result.exit_code, "".join(result.output.split())


def test_the_command_adjusts_by_id_or_by_member_number(
    settle: Settle, cli_env: dict[str, str]
) -> None:
    first, second = settle.world.members_a[0], settle.world.members_a[1]
    code, said = run(
        cli_env, str(first.id), "--grade", "A", "--reason", "县办决定 decided", "--actor", "li"
    )
    assert code == 0, said
    assert "C→A" in said
    assert "借款上限30000.00元" in said  # grade A's limit in the county's table
    association = settle.world.a.code
    code, said = run(
        cli_env, second.member_no, "--association", association, "--grade", "B", "--reason", "纠正"
    )
    assert code == 0, said
    assert cli_grade(settle, first.id) == "A"
    assert cli_grade(settle, second.id) == "B"
    session = settle.fresh()
    adjusted = select(AuditEvent).where(AuditEvent.action == ACTION).order_by(AuditEvent.id)
    events = list(session.scalars(adjusted))
    assert [(e.actor, e.object_id, e.payload["reason"]) for e in events] == [
        ("li", str(first.id), "县办决定 decided"),
        (f"cli:{getpass.getuser()}", str(second.id), "纠正"),  # no --actor: who ran it
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--grade", "Z", "--reason", "升级"), "creditgrade'Z'isnotinthecounty'stable"),
        (("--grade", "B", "--reason", "  "), "needsareason"),
    ],
)
def test_the_command_refuses_a_bad_adjustment(
    settle: Settle, cli_env: dict[str, str], args: tuple[str, ...], says: str
) -> None:
    member = settle.world.members_a[0]
    code, said = run(cli_env, str(member.id), *args)
    assert code == 1
    assert says in said
    assert cli_grade(settle, member.id) == "C"


def test_the_command_names_a_member_it_cannot_find(settle: Settle, cli_env: dict[str, str]) -> None:
    code, said = run(cli_env, "99999", "--grade", "B", "--reason", "x")
    assert code == 1
    assert "member99999notfound" in said
    code, said = run(cli_env, "0007X", "--grade", "B", "--reason", "x")
    assert code == 1
    assert "mustbeamemberid" in said
    association = settle.world.a.code
    code, said = run(cli_env, "NOPE", "--association", association, "--grade", "B", "--reason", "x")
    assert code == 1
    assert "hasnomembernumber'NOPE'" in said
