"""A disbursement the bank refuses reaches the county fund office: the follow-up is listed by
the API and the command line, resolved once with a note (audited), and then leaves the open
list; a treasurer sees only the own association's follow-ups."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.records import ResultStatus
from gateway.audit.models import AuditEvent
from gateway.auth.models import Role
from gateway.cli import app as cli_app
from gateway.jobs.pipeline import run_date
from gateway.payments.models import FollowUpItem
from tests.settle_support import (
    DAY1,
    Settle,
    cli_environment,
    client_as,
    http_app,
    settle_in,
)


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


@pytest.fixture
def refused(settle: Settle) -> int:
    """A loan of association a whose disbursement the bank refused (AC04): the loan id."""
    loan = settle.released_loan(300_000)
    run_date(settle.nightly, DAY1)
    settle.bank.answer(DAY1, lambda e2e, amount: (ResultStatus.REJECTED, 0, "AC04"))
    run_date(settle.nightly, DAY1 + timedelta(days=1))
    return loan.id


@pytest.fixture
def clients(settle: Settle, tmp_path: Path) -> Iterator[dict[str, TestClient]]:
    """API clients for the county's officer and reviewer and the treasurers of a and b."""
    world = settle.world
    scopes = {
        "officer": (Role.COUNTY_OFFICER, world.county.id, None),
        "reviewer": (Role.COUNTY_REVIEWER, world.county.id, None),
        "treasurer_a": (Role.TREASURER, None, world.a.id),
        "treasurer_b": (Role.TREASURER, None, world.b.id),
    }
    app = http_app(settle, tmp_path, console=False)
    made = {
        username: client_as(
            settle, app, username, role, county_id=county_id, association_id=association_id
        )
        for username, (role, county_id, association_id) in scopes.items()
    }
    yield made
    for client in made.values():
        client.close()


def test_refused_disbursement_is_listed_resolved_once_and_leaves_the_open_list(
    settle: Settle, refused: int, clients: dict[str, TestClient]
) -> None:
    officer = clients["officer"]
    listed = officer.get("/api/v1/follow-ups")
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["kind"] == "disbursement_failed"
    assert item["kind_label_zh"] == "代付失败，借款退回已审批"
    assert item["association_id"] == settle.world.a.id
    assert item["loan_id"] == refused
    assert item["amount_fen"] == 300_000
    assert item["reason_code"] == "AC04"
    assert "check the card and release it again" in item["message_en"]
    assert item["resolved"] is False

    blank = officer.post(f"/api/v1/follow-ups/{item['id']}/resolve", json={"note": "   "})
    assert blank.status_code == 422
    assert blank.headers["content-type"].startswith("application/problem+json")
    assert officer.get("/api/v1/follow-ups").json()["items"][0]["resolved"] is False

    note = "已联系借款人更换银行卡，借款重新放行"
    done = officer.post(f"/api/v1/follow-ups/{item['id']}/resolve", json={"note": note})
    assert done.status_code == 200, done.text
    assert done.json()["resolved"] is True
    assert done.json()["resolved_by"] == "user:officer"
    assert done.json()["resolution_note"] == note
    assert done.json()["resolved_at"] is not None

    assert officer.get("/api/v1/follow-ups").json()["items"] == []
    history = officer.get("/api/v1/follow-ups", params={"state": "resolved"}).json()["items"]
    assert [h["id"] for h in history] == [item["id"]]

    again = clients["reviewer"].post(
        f"/api/v1/follow-ups/{item['id']}/resolve", json={"note": "重复处理"}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    shown = officer.get(f"/api/v1/follow-ups/{item['id']}").json()
    assert shown["resolved_by"] == "user:officer"
    assert shown["resolution_note"] == note

    settle.fresh()
    (event,) = settle.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "follow_up.resolved")
    ).all()
    assert event.actor == "user:officer"
    assert event.object_id == str(item["id"])
    assert event.chain == f"association:{settle.world.a.id}"


def test_treasurers_see_only_their_own_associations_follow_ups(
    refused: int, clients: dict[str, TestClient]
) -> None:
    own = clients["treasurer_a"].get("/api/v1/follow-ups").json()["items"]
    assert [i["loan_id"] for i in own] == [refused]
    item_id = own[0]["id"]
    assert clients["treasurer_a"].get(f"/api/v1/follow-ups/{item_id}").status_code == 200

    other = clients["treasurer_b"]
    assert other.get("/api/v1/follow-ups").json()["items"] == []
    assert other.get(f"/api/v1/follow-ups/{item_id}").status_code == 404
    # A treasurer reads the list but resolving is the fund office's.
    refused_write = clients["treasurer_a"].post(
        f"/api/v1/follow-ups/{item_id}/resolve", json={"note": "已处理"}
    )
    assert refused_write.status_code == 403


def test_command_line_lists_and_resolves(settle: Settle, refused: int, tmp_path: Path) -> None:
    env = cli_environment(settle, tmp_path)
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["follow-ups", "list"], env=env, terminal_width=240)
    assert listed.exit_code == 0, listed.output
    assert "代付失败" in listed.output
    assert "3000.00" in listed.output
    assert settle.world.a.code in listed.output
    item_id = settle.fresh().scalars(select(FollowUpItem.id)).one()

    missing_note = runner.invoke(
        cli_app, ["follow-ups", "resolve", str(item_id), "--note", " "], env=env
    )
    assert missing_note.exit_code == 1
    resolved = runner.invoke(
        cli_app,
        ["follow-ups", "resolve", str(item_id), "--note", "卡号已更正", "--actor", "cli:clerk"],
        env=env,
    )
    assert resolved.exit_code == 0, resolved.output
    twice = runner.invoke(
        cli_app, ["follow-ups", "resolve", str(item_id), "--note", "再次"], env=env
    )
    assert twice.exit_code == 1
    assert "已由 cli:clerk 处理" in twice.output

    still_open = runner.invoke(cli_app, ["follow-ups", "list"], env=env, terminal_width=240)
    assert "代付失败" not in still_open.output
    done = runner.invoke(cli_app, ["follow-ups", "list", "--resolved"], env=env, terminal_width=240)
    assert "cli:clerk: 卡号已更正" in done.output
