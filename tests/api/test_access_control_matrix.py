"""Every API endpoint × every role × an object in scope and objects out of scope.

The routes come from the app's own route table: a new endpoint without an entry in ``SPECS``
fails ``test_every_endpoint_is_in_the_matrix``, so none can escape the matrix. The expected
permissions per user are written out here, independently of the code under test.

Expected status: no permission → 403; permission but object outside the scope → 404 (its
existence is not disclosed); otherwise the request reaches the service (2xx, or a domain
refusal 409/422 for a write whose business rule says no).
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from adapters.records import Direction
from gateway.batches.models import BatchStatus, PaymentBatch
from gateway.ingestion.models import InboundFile, InboundKind, InboundStatus
from gateway.loans.models import Loan
from gateway.members.models import Member
from gateway.org.models import Association
from gateway.payments.models import FollowUpKind, InstructionStatus, PaymentInstruction
from gateway.payments.service import follow_up
from gateway.reconcile.models import AutoPosting, ReconRun
from gateway.security.fieldcrypt import FieldCipher
from gateway.testing import World
from tests.api.conftest import USERS, ClientFor, Seeded, file_village_cash

READ_ALL = {
    "reports",
    "reports.county",
    "org",
    "members",
    "loans",
    "ledger",
    "audit",
    "files",
    "payments",
    "statements",
    "queue",
    "follow_ups",
}
WRITE_ALL = {
    "queue.work",
    "follow_ups.work",
    "audit.verify",
    "members.write",
    "unmask",
    "loans.write",
    "loans.county",
    "release",
    "download",
    "grades.adjust",
}
TREASURER = {
    "org", "members", "members.write", "loans", "loans.write", "ledger", "payments", "reports",
    "follow_ups",
}  # fmt: skip
# What each user may do, by capability (not by the code's permission names).
CAN: dict[str, set[str]] = {
    "admin": READ_ALL | WRITE_ALL,
    "officer": READ_ALL | WRITE_ALL,
    "officer_other": READ_ALL | WRITE_ALL - {"unmask"},
    "reviewer": READ_ALL | {"loans.county", "audit.verify", "queue.work", "follow_ups.work"},
    "treasurer_a": TREASURER,
    "treasurer_b": TREASURER,
    "bank_op": {"files", "download"},
    "auditor": READ_ALL | {"audit.verify"},
    "auditor_a": READ_ALL - {"reports.county"},  # the county summary is county-wide
}


@dataclass(frozen=True)
class Spec:
    need: str  # capability from CAN
    kind: str | None  # the object in the path: association, member, loan, county; None: list
    body: Any = None
    then: str | None = None  # a second capability checked after the scope (unmask)
    query: dict[str, str] | None = None


PATH_PARAM = {"file": "file", "account": "account"}
STEP: dict[str, Any] = {"on": "2024-06-28"}
REASON: dict[str, Any] = {"reason": "测试 test"}

SPECS: dict[tuple[str, str], Spec] = {
    ("GET", "/api/v1/auth/me"): Spec("", None),
    ("GET", "/api/v1/counties"): Spec("org", None),
    ("GET", "/api/v1/counties/{county_id}"): Spec("org", "county"),
    ("GET", "/api/v1/associations"): Spec("org", None),
    ("GET", "/api/v1/associations/{association_id}"): Spec("org", "association"),
    ("GET", "/api/v1/associations/{association_id}/summary"): Spec("ledger", "association"),
    ("GET", "/api/v1/associations/{association_id}/members"): Spec("members", "association"),
    ("POST", "/api/v1/associations/{association_id}/members"): Spec(
        "members.write", "association", body="member"
    ),
    ("GET", "/api/v1/members/{member_id}"): Spec("members", "member"),
    ("POST", "/api/v1/members/{member_id}/unmask"): Spec("members", "member", then="unmask"),
    ("POST", "/api/v1/members/{member_id}/credit-grade"): Spec(
        "grades.adjust", "member", body={"grade": "B", "reason": "县办复核后调整 reviewed"}
    ),
    ("GET", "/api/v1/associations/{association_id}/loans"): Spec("loans", "association"),
    ("POST", "/api/v1/associations/{association_id}/loans"): Spec(
        "loans.write", "association", body="loan"
    ),
    ("GET", "/api/v1/loans/{loan_id}"): Spec("loans", "loan"),
    ("POST", "/api/v1/loans/{loan_id}/notice"): Spec("loans.write", "loan", body=STEP),
    ("POST", "/api/v1/loans/{loan_id}/council-approval"): Spec("loans.write", "loan", body=STEP),
    ("POST", "/api/v1/loans/{loan_id}/county-approval"): Spec("loans.county", "loan", body=STEP),
    ("POST", "/api/v1/loans/{loan_id}/release"): Spec("release", "loan", body=STEP),
    ("POST", "/api/v1/loans/{loan_id}/reject"): Spec("loans.write", "loan", body=REASON),
    ("POST", "/api/v1/loans/{loan_id}/cancel"): Spec("loans.write", "loan", body=REASON),
    ("GET", "/api/v1/associations/{association_id}/instructions"): Spec("payments", "association"),
    ("GET", "/api/v1/instructions/{instruction_id}"): Spec("payments", "instruction"),
    ("GET", "/api/v1/batches"): Spec("files", None),
    ("GET", "/api/v1/batches/{batch_id}"): Spec("files", "batch"),
    ("GET", "/api/v1/batches/{batch_id}/content"): Spec("download", "batch"),
    ("GET", "/api/v1/bank-files"): Spec("files", None),
    ("GET", "/api/v1/bank-files/{file_id}"): Spec("files", "file"),
    ("GET", "/api/v1/bank-files/{file_id}/content"): Spec("download", "file"),
    # an applied file: allowed means reaching the service, which refuses to reapply it (409)
    ("POST", "/api/v1/bank-files/{file_id}/reapply"): Spec(
        "follow_ups.work", "file", body={"note": "回盘已到 the result has come"}
    ),
    ("GET", "/api/v1/special-accounts"): Spec("statements", None),
    ("GET", "/api/v1/special-accounts/{account_id}/statement-lines"): Spec("statements", "account"),
    ("GET", "/api/v1/special-accounts/{account_id}/reconciliation-runs"): Spec(
        "statements", "account"
    ),
    ("GET", "/api/v1/special-accounts/{account_id}/auto-postings"): Spec("statements", "account"),
    # an undone posting: allowed means reaching the service, which refuses a second undo (409)
    ("POST", "/api/v1/auto-postings/{auto_posting_id}/undo"): Spec(
        "queue.work", "auto_posting", body={"reason": "测试 test"}
    ),
    ("GET", "/api/v1/queue-items"): Spec("queue", None),
    ("GET", "/api/v1/queue-items/{item_id}"): Spec("queue", "item"),
    ("POST", "/api/v1/queue-items/{item_id}/assign"): Spec(
        "queue.work", "item", body={"assignee": "reviewer"}
    ),
    ("POST", "/api/v1/queue-items/{item_id}/resolve"): Spec(
        "queue.work", "item", body={"action": "bank_error", "note": "已向银行反映"}
    ),
    ("POST", "/api/v1/queue-items/{item_id}/review"): Spec(
        "queue.work", "item", body={"approve": True}
    ),
    ("GET", "/api/v1/follow-ups"): Spec("follow_ups", None),
    ("GET", "/api/v1/follow-ups/{follow_up_id}"): Spec("follow_ups", "follow_up"),
    ("POST", "/api/v1/follow-ups/{follow_up_id}/resolve"): Spec(
        "follow_ups.work", "follow_up", body={"note": "已核实卡号，重新放行"}
    ),
    ("GET", "/api/v1/associations/{association_id}/reports/period"): Spec(
        "reports", "association", query={"start": "2024-06-01", "end": "2024-06-30"}
    ),
    ("GET", "/api/v1/associations/{association_id}/reports/loan-detail"): Spec(
        "reports", "association", query={"as_of": "2024-06-30", "format": "csv"}
    ),
    ("GET", "/api/v1/associations/{association_id}/evaluation"): Spec(
        "reports", "association", query={"as_of": "2024-06-30"}
    ),
    ("GET", "/api/v1/associations/{association_id}/reports/evaluation"): Spec(
        "reports", "association", query={"as_of": "2024-06-30", "format": "csv"}
    ),
    ("GET", "/api/v1/counties/{county_id}/reports/summary"): Spec(
        "reports.county", "county", query={"as_of": "2024-06-30", "format": "csv"}
    ),
    ("GET", "/api/v1/audit-events"): Spec("audit", None),
    ("GET", "/api/v1/audit-events/verification"): Spec("audit.verify", None),
}
# Reachable without signing in.
PUBLIC = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout")}


def api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation under /api/v1, from the app's own route table as OpenAPI lists it."""
    paths = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/v1")
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_every_endpoint_is_in_the_matrix(app: FastAPI) -> None:
    routes = api_routes(app)
    assert len(routes) >= len(SPECS) >= 40
    missing = routes - set(SPECS) - PUBLIC
    assert not missing, f"endpoints missing from the access-control matrix: {sorted(missing)}"
    stale = set(SPECS) - routes
    assert not stale, f"matrix entries for endpoints that do not exist: {sorted(stale)}"


@dataclass
class Objects:
    """Ids by kind: ``own`` in the test county's association a, ``sibling`` in association b
    (same county), ``foreign`` in another county under another bank."""

    ids: dict[str, dict[str, int]] = field(default_factory=dict)


def _loan_in(session: Session, seeded: Seeded, association_id: int) -> int:
    loan = session.query(Loan).filter(Loan.association_id == association_id).first()
    assert loan is not None
    return loan.id


def add_bank_side(session: Session, association: Association, tag: str) -> dict[str, int]:
    """A batch file and an inbound result file at the association's special account."""
    account = association.special_account
    batch = PaymentBatch(
        bank_code=account.bank.code,
        special_account_id=account.id,
        direction=Direction.DISBURSEMENT,
        business_date=date(2024, 6, 28),
        sequence=1,
        message_id=f"MSG-{tag}",
        file_name=f"DF_{tag}.txt",
        status=BatchStatus.SENT,
        line_count=1,
        total_fen=300_000,
        content=b"batch bytes",
        sha256=hashlib.sha256(b"batch bytes").hexdigest(),
    )
    session.add(batch)
    session.flush()
    result = InboundFile(
        bank_code=account.bank.code,
        name=f"RESULT_{tag}.txt",
        remote_path=f"out/RESULT_{tag}.txt",
        kind=InboundKind.RESULT,
        sha256=hashlib.sha256(tag.encode()).hexdigest(),
        size=len(tag),
        content=tag.encode(),
        status=InboundStatus.APPLIED,
        business_date=date(2024, 6, 28),
        batch_id=batch.id,
    )
    session.add(result)
    session.flush()
    return {"batch": batch.id, "file": result.id, "account": account.id}


def add_follow_up(session: Session, association_id: int) -> int:
    """A refused disbursement's follow-up for the association, as the lifecycle writes it."""
    item = follow_up(
        session,
        FollowUpKind.DISBURSEMENT_FAILED,
        business_date=date(2024, 6, 28),
        association_id=association_id,
        amount_fen=300_000,
        reason_code="AC04",
        message_zh="代付失败：AC04 账户已销户",
        message_en="disbursement failed: AC04 account closed",
    )
    session.flush()
    return item.id


def add_auto_posting(session: Session, association: Association, day: date) -> int:
    """An automatic posting of the association, undone already, from a run of ``day``."""
    run = ReconRun(
        special_account_id=association.special_account_id,
        business_date=day,
        has_statement=True,
        previous_hash="",
        statement_hash="0" * 64,
        statement_json="{}",
    )
    session.add(run)
    session.flush()
    auto = AutoPosting(
        run_id=run.id,
        kind="bank_fee",
        association_id=association.id,
        journal_transaction_id=uuid.uuid4(),
        amount_fen=250,
        lines_json=json.dumps([{"line_id": f"STMT-{day}:1", "booking_date": str(day)}]),
        reason="银行手续费",
        undone_at=datetime(2024, 6, 28, tzinfo=UTC),
        undone_by="officer",
        undo_reason="测试 test",
    )
    session.add(auto)
    session.flush()
    return auto.id


def add_instruction(session: Session, association_id: int) -> int:
    loan = session.query(Loan).filter(Loan.association_id == association_id).first()
    assert loan is not None
    association = session.get(Association, association_id)
    assert association is not None
    instruction = PaymentInstruction(
        end_to_end_id=f"E2E-{association_id}",
        direction=Direction.DISBURSEMENT,
        status=InstructionStatus.PENDING,
        association_id=association_id,
        special_account_id=association.special_account_id,
        loan_id=loan.id,
        member_id=loan.member_id,
        amount_fen=loan.amount_fen,
        principal_fen=loan.amount_fen,
        fee_fen=0,
        requested_date=date(2024, 6, 28),
    )
    session.add(instruction)
    session.flush()
    return instruction.id


@pytest.fixture
def objects(
    seeded: Seeded, api_sessions: sessionmaker[Session], field_cipher: FieldCipher
) -> Objects:
    template = seeded.world
    with api_sessions() as session:
        a = session.merge(template.a)
        b = session.merge(template.b)
        other = session.merge(seeded.other)
        world = World(
            session=session,
            cipher=field_cipher,
            county=session.merge(template.county),
            a=a,
            b=b,
            members_a=[session.merge(m) for m in template.members_a],
            members_b=[session.merge(m) for m in template.members_b],
            rng=random.Random(11),
        )
        world.apply(world.members_a[0], amount_fen=300_000)
        world.apply(world.members_b[0], amount_fen=300_000, association=b)
        foreign = [world.new_member(other, member_no=f"{n:04d}") for n in range(1, 4)]
        world.apply(foreign[0], foreign[1:], amount_fen=300_000, association=other)
        bank_files = {
            key: add_bank_side(session, association, key)
            for key, association in (("own", a), ("foreign", other))
        }
        session.commit()
        ids = {
            "own": {
                "county": world.county.id,
                "association": a.id,
                "member": world.members_a[1].id,
                "loan": _loan_in(session, seeded, a.id),
                **bank_files["own"],
                "instruction": add_instruction(session, a.id),
                "follow_up": add_follow_up(session, a.id),
                "item": file_village_cash(session, a, tag="own"),
                "auto_posting": add_auto_posting(session, a, date(2024, 6, 25)),
            },
            "sibling": {
                "county": world.county.id,
                "association": b.id,
                "member": world.members_b[1].id,
                "loan": _loan_in(session, seeded, b.id),
                **bank_files["own"],  # the same special account and bank as a
                "instruction": add_instruction(session, b.id),
                "follow_up": add_follow_up(session, b.id),
                "item": file_village_cash(session, b, tag="sibling"),
                "auto_posting": add_auto_posting(session, b, date(2024, 6, 26)),
            },
            "foreign": {
                "county": seeded.other_county_id,
                "association": other.id,
                "member": foreign[1].id,
                "loan": _loan_in(session, seeded, other.id),
                **bank_files["foreign"],
                "instruction": add_instruction(session, other.id),
                "follow_up": add_follow_up(session, other.id),
                "item": file_village_cash(session, other, tag="foreign"),
                "auto_posting": add_auto_posting(session, other, date(2024, 6, 25)),
            },
        }
        session.commit()  # the instructions added while listing the ids
        members_by_association = {
            a.id: [m.id for m in world.members_a],
            b.id: [m.id for m in world.members_b],
            other.id: [m.id for m in foreign],
        }
    result = Objects(ids=ids)
    result.ids["_members"] = {str(k): 0 for k in members_by_association}
    objects_members.clear()
    objects_members.update(members_by_association)
    return result


objects_members: dict[int, list[int]] = {}


COUNTY_LEVEL_KINDS = {"batch", "file", "account"}


# Where each user stands relative to the three places: in scope or not.
def in_scope(username: str, place: str, kind: str) -> bool:
    """``own`` and ``sibling`` lie in the test county (under its bank), ``foreign`` in the
    other county; an association user also reads its own county's policy."""
    scope = USERS[username][1]
    if scope == "none":
        return True
    if scope in ("a", "b") and kind in COUNTY_LEVEL_KINDS:
        return False  # batches, bank files and special accounts are county-wide
    if scope == "county" or (kind == "county" and scope in ("a", "b")):
        return place in ("own", "sibling")
    if scope == "other":
        return place == "foreign"
    return (scope, place) in (("a", "own"), ("b", "sibling"))


_counter = {"n": 0}


def body_for(spec: Spec, association_id: int) -> Any:
    if spec.body == "member":
        _counter["n"] += 1
        n = _counter["n"]
        return {
            "member_no": f"M{n:05d}",
            "name": "测试会员",
            "resident_id": "11010519491231002X",
            "card_number": "6217000000000000000"[:16],
            "phone": "13800000000",
            "household_no": f"H{n}",
            "joined_on": "2024-01-01",
        }
    if spec.body == "loan":
        _counter["n"] += 1
        members = objects_members[association_id]
        return {
            "contract_no": f"MX-{_counter['n']:05d}",
            "member_id": members[2],
            "purpose": "种植",
            "amount_fen": 200_000,
            "term_months": 12,
            "monthly_fee_rate_centipermille": 600,
            "applied_on": date(2024, 6, 1).isoformat(),
            "guarantor_ids": members[3:5] if len(members) > 4 else members[1:2],
        }
    return spec.body


def expected(username: str | None, spec: Spec, place: str | None) -> str:
    if username is None:
        return "401"
    can = CAN[username]
    if spec.need and spec.need not in can:
        return "403"
    if place is not None and spec.kind is not None and not in_scope(username, place, spec.kind):
        return "404"
    if spec.then and spec.then not in can:
        return "403"
    return "allowed"


def outcome(status: int) -> str:
    if status in (401, 403, 404):
        return str(status)
    assert status < 500, f"server error {status}"
    return "allowed"


CASES = [
    (username, method_path, place)
    for method_path, spec in SPECS.items()
    for username in [*USERS, None]
    for place in (["own", "sibling", "foreign"] if spec.kind else [None])
]


def test_matrix(client_for: ClientFor, objects: Objects) -> None:
    failures: list[str] = []
    clients = {u: client_for(u) for u in [*USERS, None]}
    for username, (method, path), place in CASES:
        spec = SPECS[(method, path)]
        url = path
        association_id = objects.ids["own"]["association"]
        if spec.kind and place:
            target = objects.ids[place][spec.kind]
            url = path.replace(
                "{" + f"{PATH_PARAM.get(spec.kind, spec.kind)}_id" + "}", str(target)
            )
            association_id = objects.ids[place]["association"]
        response = clients[username].request(
            method,
            url,
            json=body_for(spec, association_id) if method == "POST" else None,
            params=spec.query,
        )
        want = expected(username, spec, place)
        got = outcome(response.status_code)
        if got != want:
            failures.append(
                f"{username} {method} {url} ({place}): want {want}, got {response.status_code} "
                f"{response.text[:160]}"
            )
    assert not failures, "\n".join(failures)


def test_lists_show_only_what_is_in_scope(client_for: ClientFor, seeded: Seeded) -> None:
    world = seeded.world
    seen = {
        u: {a["id"] for a in client_for(u).get("/api/v1/associations").json()["items"]}
        for u in ("admin", "officer", "treasurer_a", "auditor_a", "officer_other")
    }
    assert seen["admin"] == {world.a.id, world.b.id, seeded.other.id}
    assert seen["officer"] == {world.a.id, world.b.id}
    assert seen["treasurer_a"] == {world.a.id}
    assert seen["auditor_a"] == {world.a.id}
    assert seen["officer_other"] == {seeded.other.id}
    counties = client_for("officer").get("/api/v1/counties").json()["items"]
    assert [c["id"] for c in counties] == [world.county.id]


def test_members_masked_for_everyone_and_unmask_is_audited(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    member_id = seeded.world.members_a[0].id
    shown = client_for("treasurer_a").get(f"/api/v1/members/{member_id}").json()
    assert shown["card_masked"].startswith("6231 **** **** ")
    assert "card_number" not in shown
    assert "resident_id" not in shown
    with api_sessions() as session:
        member = session.get(Member, member_id)
        assert member is not None
        last4 = member.card_last4
    assert shown["card_masked"].endswith(last4)
    refused = client_for("reviewer").post(f"/api/v1/members/{member_id}/unmask")
    assert refused.status_code == 403
    revealed = client_for("officer").post(f"/api/v1/members/{member_id}/unmask")
    assert revealed.status_code == 200
    card = revealed.json()["card_number"]
    assert card.endswith(last4)
    assert len(card) >= 16
    assert "*" not in card
    log = client_for("auditor").get("/api/v1/audit-events", params={"action": "member.unmask"})
    events = log.json()["items"]
    assert [(e["actor"], e["object_id"]) for e in events] == [("user:officer", str(member_id))]


def test_bank_operator_lists_only_its_banks_files(client_for: ClientFor, objects: Objects) -> None:
    own_batch, foreign_batch = objects.ids["own"]["batch"], objects.ids["foreign"]["batch"]
    seen = {b["id"] for b in client_for("bank_op").get("/api/v1/batches").json()["items"]}
    assert own_batch in seen
    assert foreign_batch not in seen
    files = {f["id"] for f in client_for("bank_op").get("/api/v1/bank-files").json()["items"]}
    assert objects.ids["own"]["file"] in files
    assert objects.ids["foreign"]["file"] not in files
    download = client_for("bank_op").get(f"/api/v1/batches/{own_batch}/content")
    assert download.content == b"batch bytes"
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(b"batch bytes").hexdigest()
    assert client_for("officer_other").get("/api/v1/batches").json()["items"][0]["id"] == (
        foreign_batch
    )
