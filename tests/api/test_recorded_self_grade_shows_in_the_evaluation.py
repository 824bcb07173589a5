"""The self-grade (自评等级) the county recorded for a period shows in 附件1's item 4
(自评等级和存在主要问题), beside the system's suggestion, and in the API's ``recorded``;
without one, item 4 shows only the suggestion and ``recorded.self_grade`` is null."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gateway.org.models import AssociationGrade
from gateway.reports.scoring import load_grading_config
from gateway.reports.service import record_grade
from tests.api.conftest import ClientFor, Seeded

AS_OF = date(2024, 6, 30)
SCORING = load_grading_config(
    Path(__file__).resolve().parents[2] / "config" / "grading.toml"
).evaluation


def _evaluation(client_for: ClientFor, association_id: int) -> dict[str, Any]:
    response = client_for("officer").get(
        f"/api/v1/associations/{association_id}/evaluation", params={"as_of": AS_OF.isoformat()}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _item_4(body: dict[str, Any]) -> dict[str, str]:
    (row,) = [r for r in body["rows"] if r["item"].startswith("4、")]
    return row


@pytest.mark.parametrize(
    ("self_grade", "shown"), [(AssociationGrade.B, "B"), (None, None)], ids=["B", "none"]
)
def test_the_recorded_self_grade_shows_in_item_4_and_in_recorded(
    client_for: ClientFor,
    seeded: Seeded,
    api_sessions: sessionmaker[Session],
    self_grade: AssociationGrade | None,
    shown: str | None,
) -> None:
    a = seeded.world.a.id
    with api_sessions() as session:
        record_grade(
            session,
            a,
            SCORING,
            period_end=AS_OF,
            decided_grade=AssociationGrade.C,
            self_grade=self_grade,
            method="县级评估组直接评估",
            actor="县办张",
        )
        session.commit()
    body = _evaluation(client_for, a)
    suggested = f"系统建议 {body['suggestion']['grade']}（{body['suggestion']['score']} 分）"
    assert body["recorded"]["decided_grade"] == "C"
    assert body["recorded"]["self_grade"] == shown
    item_4 = _item_4(body)
    if shown is None:
        assert item_4["content"] == suggested
    else:
        assert item_4["content"] == f"自评 {shown}；{suggested}"
