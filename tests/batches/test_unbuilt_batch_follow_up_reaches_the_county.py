"""A batch that cannot be built leaves a follow-up for each association whose instructions it
held, so the county fund office (and each association's treasurer, for their own) sees it in
GET /api/v1/follow-ups, not only the administrator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.auth import credentials
from gateway.auth.models import Role
from gateway.auth.service import create_user
from gateway.jobs.pipeline import run_date
from gateway.members.models import Member
from gateway.payments import service as payments
from gateway.settings import Settings
from tests.settle_support import CIPHER, DAY1, Settle, settle_in


@pytest.fixture
def settle(tmp_path: Path) -> Iterator[Settle]:
    yield from settle_in(tmp_path)


def test_county_officer_and_treasurers_see_the_unbuilt_batchs_follow_ups(
    settle: Settle, tmp_path: Path
) -> None:
    world = settle.world
    in_a = settle.released_loan(100_000)
    loan_b = world.apply(world.members_b[0], association=world.b, amount_fen=200_000)
    world.approve(loan_b)
    payments.release_loan(settle.session, loan_b.id, on=world.today)
    borrower = settle.session.get(Member, in_a.member_id)
    assert borrower is not None
    borrower.name = "王|五"  # the bank's delimiter inside a field: the file cannot be written
    tokens = {}
    for username, role, association in (
        ("officer", Role.COUNTY_OFFICER, None),
        ("treasurer_a", Role.TREASURER, world.a.id),
        ("treasurer_b", Role.TREASURER, world.b.id),
    ):
        create_user(
            settle.session,
            username=username,
            display_name=username,
            role=role,
            county_id=world.county.id if association is None else None,
            association_id=association,
        )
        tokens[username] = credentials.issue_token(
            settle.session, username, name="test", actor="test"
        )
    a_id, b_id = world.a.id, world.b.id
    settle.session.commit()

    outcomes = run_date(settle.nightly, DAY1)
    assert outcomes[-1].summary["refused"] == 2  # both instructions were in the one batch

    settings = Settings(database_url=str(settle.engine.url), field_key_file=tmp_path / "unused.key")
    app = create_app(
        settings, engine=settle.engine, cipher=CIPHER, bank_transports={}, console=False
    )

    def listed(username: str) -> list[dict[str, object]]:
        with TestClient(app, base_url="https://testserver") as client:
            client.headers["Authorization"] = f"Bearer {tokens[username]}"
            response = client.get("/api/v1/follow-ups")
            assert response.status_code == 200, response.text
            items: list[dict[str, object]] = response.json()["items"]
            return items

    county = listed("officer")
    assert sorted((i["kind"], i["association_id"], i["amount_fen"]) for i in county) == [
        ("batch_not_built", a_id, 100_000),
        ("batch_not_built", b_id, 200_000),
    ]
    assert [(i["association_id"], i["amount_fen"]) for i in listed("treasurer_a")] == [
        (a_id, 100_000)
    ]
    assert [(i["association_id"], i["amount_fen"]) for i in listed("treasurer_b")] == [
        (b_id, 200_000)
    ]
