"""A period report may start on the first day a date can name (0001-01-01): nothing is booked
before it, so its opening balances are nil; it is a report (or a clear 422 for too long a
period), never a server error."""

from __future__ import annotations

from tests.api.conftest import ClientFor, Seeded


def test_a_period_starting_on_the_first_date_reports_nil_opening_balances(
    client_for: ClientFor, seeded: Seeded
) -> None:
    client = client_for("treasurer_a")
    url = f"/api/v1/associations/{seeded.world.a.id}/reports/period"
    first = client.get(url, params={"start": "0001-01-01", "end": "0001-01-31", "format": "csv"})
    assert first.status_code == 200, first.text
    assert first.headers["content-type"].startswith("text/csv")
    assert client.get(url, params={"start": "0001-01-01", "end": "0001-12-31"}).status_code == 200
    too_long = client.get(url, params={"start": "0001-01-01", "end": "9999-12-31"})
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "validation_failed"
