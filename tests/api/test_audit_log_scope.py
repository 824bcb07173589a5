"""A county's readers see their own county's audit events and nothing of another county's;
events of no county are the system administrator's alone."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import service as audit
from gateway.ledger.models import JournalTransaction
from tests.api.conftest import ClientFor, Seeded


def _all_events(client: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/audit-events", params=params)
        assert page.status_code == 200, page.text
        events += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return events
    raise AssertionError("the audit log did not end")


def test_county_readers_see_their_county_and_never_the_other(
    client_for: ClientFor, seeded: Seeded
) -> None:
    own_county = str(seeded.world.county.id)
    other_county = str(seeded.other_county_id)
    everything = _all_events(client_for("admin"))
    chains = {e["chain"] for e in everything}
    assert audit.county_chain(seeded.other_county_id) in chains
    assert audit.GLOBAL_CHAIN in chains  # the administrator's own account
    for reader in ("reviewer", "officer", "auditor"):
        events = _all_events(client_for(reader))
        objects = {(e["object_type"], e["object_id"]) for e in events}
        assert ("county", own_county) in objects, reader
        assert ("county", other_county) not in objects, reader
        assert {e["chain"] for e in events} <= {
            audit.county_chain(seeded.world.county.id),
            audit.association_chain(seeded.world.a.id),
            audit.association_chain(seeded.world.b.id),
        }, reader
        usernames = {e["payload"].get("username") for e in events}
        assert "reviewer" in usernames
        assert "officer_other" not in usernames, reader
        assert "admin" not in usernames, reader
    other = _all_events(client_for("officer_other"))
    assert {e["chain"] for e in other} <= {
        audit.county_chain(seeded.other_county_id),
        audit.association_chain(seeded.other.id),
    }
    assert ("county", other_county) in {(e["object_type"], e["object_id"]) for e in other}
    treasurer = _all_events(client_for("auditor_a"))
    assert {e["chain"] for e in treasurer} == {audit.association_chain(seeded.world.a.id)}


def test_verification_names_only_the_readers_chains(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    other_chain = audit.county_chain(seeded.other_county_id)
    with api_sessions() as session:
        # An attacker with database rights edits the other county's first event.
        session.execute(text("DROP TRIGGER audit_events_no_update"))
        session.execute(
            text("UPDATE audit_events SET actor = 'mallory' WHERE chain = :c AND seq = 1"),
            {"c": other_chain},
        )
        session.commit()
    admin = client_for("admin").get("/api/v1/audit-events/verification").json()
    assert not admin["ok"]
    assert [p.split(" seq ")[0] for p in admin["problems"]] == [other_chain]
    reviewer = client_for("reviewer").get("/api/v1/audit-events/verification").json()
    assert reviewer["ok"], reviewer["problems"]
    assert 0 < reviewer["checked"] < admin["checked"]
    other = client_for("officer_other").get("/api/v1/audit-events/verification").json()
    assert not other["ok"]
    assert [p.split(" seq ")[0] for p in other["problems"]] == [other_chain]


def test_verification_names_an_edited_journal_transaction_to_its_county(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    with api_sessions() as session:
        # An attacker with database rights moves one of association a's postings to new year's eve.
        session.execute(text("DROP TRIGGER journal_transactions_no_update"))
        txn = session.scalar(
            select(JournalTransaction.id)
            .where(JournalTransaction.association_id == seeded.world.a.id)
            .order_by(JournalTransaction.business_date, JournalTransaction.id)
            .limit(1)
        )
        assert txn is not None
        session.execute(
            update(JournalTransaction)
            .where(JournalTransaction.id == txn)
            .values(business_date=date(2030, 12, 31))
        )
        session.commit()
    named = f"journal_transactions {txn} business_date"
    for reader in ("admin", "reviewer"):
        report = client_for(reader).get("/api/v1/audit-events/verification").json()
        assert not report["ok"], reader
        (problem,) = report["problems"]
        assert problem.startswith(named), reader
        assert "stored 2030-12-31" in problem, reader
        assert report["transactions"] > 0, reader
    other = client_for("officer_other").get("/api/v1/audit-events/verification").json()
    assert other["ok"], other["problems"]


def _walk(client: Any, limit: int) -> list[int]:
    ids: list[int] = []
    cursor: str | None = None
    for _ in range(1000):
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/audit-events", params=params)
        assert page.status_code == 200, page.text
        ids += [e["id"] for e in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return ids
    raise AssertionError("the audit log did not end")


def test_walking_small_pages_of_several_chains_returns_every_event_exactly_once(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    county, a, b = seeded.world.county.id, seeded.world.a.id, seeded.world.b.id
    chains = [
        audit.county_chain(county),
        audit.association_chain(a),
        audit.association_chain(b),
        audit.county_chain(seeded.other_county_id),
    ]
    with api_sessions() as session:
        for n in range(40):  # interleaved, so each chain's seq runs beside the others'
            for chain in chains:
                audit.record(
                    session,
                    actor="test",
                    action="test.page",
                    object_type="test",
                    object_id=n,
                    chain=chain,
                )
        session.commit()
        by_chain: dict[str, list[int]] = {}
        for event_id, chain in session.execute(text("SELECT id, chain FROM audit_events")):
            by_chain.setdefault(chain, []).append(event_id)
    ours = [audit.county_chain(county)] + [
        c
        for c in by_chain
        if c.startswith("association:") and int(c.split(":")[1]) != seeded.other.id
    ]
    expected = {
        "admin": sorted((i for ids in by_chain.values() for i in ids), reverse=True),
        "auditor": sorted((i for c in ours for i in by_chain.get(c, [])), reverse=True),
        "auditor_a": sorted(by_chain[audit.association_chain(a)], reverse=True),
    }
    for reader, events in expected.items():
        assert len(events) > 40
        assert _walk(client_for(reader), limit=7) == events, reader
