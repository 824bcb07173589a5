"""A county's readers see their own county's audit events and nothing of another county's;
events of no county are the system administrator's alone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import service as audit
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
