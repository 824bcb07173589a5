"""Every report endpoint refuses a period that starts after it ends with 422 in the problem
format, by the reports' one period check, instead of a 200 with an empty table."""

from __future__ import annotations

import pytest

from gateway.api.problems import PROBLEM_MEDIA_TYPE
from tests.api.conftest import ClientFor, Seeded


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("associations/{a}/reports/loan-detail", {"as_of": "2024-07-01", "since": "2024-08-01"}),
        ("counties/{county}/reports/summary", {"as_of": "2024-07-01", "since": "2024-09-01"}),
        ("associations/{a}/reports/evaluation", {"as_of": "2024-07-01", "since": "2024-08-01"}),
        ("associations/{a}/evaluation", {"as_of": "2024-07-01", "since": "2024-08-01"}),
        ("associations/{a}/reports/period", {"start": "2024-08-01", "end": "2024-07-01"}),
    ],
)
def test_a_reversed_report_period_is_refused_with_422(
    client_for: ClientFor, seeded: Seeded, path: str, params: dict[str, str]
) -> None:
    url = "/api/v1/" + path.format(a=seeded.world.a.id, county=seeded.world.county.id)
    response = client_for("auditor").get(url, params={**params, "format": "csv"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem = response.json()
    assert problem["code"] == "report_period_reversed"
    assert problem["message_zh"].startswith("报表期间无效：起始日")
