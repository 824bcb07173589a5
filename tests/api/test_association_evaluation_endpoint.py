"""The association evaluation (附件1) over the API: the figures as JSON, the same as the
reports compute them, with the suggested grade and its reasons, and the table as an XLSX or CSV
download like the command line writes."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from gateway.reports.figures import evaluate
from gateway.reports.scoring import load_grading_config, suggest_grade
from tests.api.conftest import ClientFor, Seeded

AS_OF = date(2024, 6, 30)
CONFIG = Path(__file__).resolve().parents[2] / "config" / "grading.toml"


def as_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: as_json(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, date):
        return value.isoformat()
    return value


def test_json_figures_are_the_reports_figures_with_the_grade_and_reasons(
    client_for: ClientFor, seeded: Seeded, api_sessions: sessionmaker[Session]
) -> None:
    a = seeded.world.a.id
    response = client_for("officer").get(
        f"/api/v1/associations/{a}/evaluation", params={"as_of": AS_OF.isoformat()}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    with api_sessions() as session:
        figures = evaluate(session, a, as_of=AS_OF)
    suggestion = suggest_grade(figures, load_grading_config(CONFIG).evaluation)
    expected = {
        f.name: as_json(getattr(figures, f.name))
        for f in dataclasses.fields(figures)
        if f.name not in ("loans", "flags")
    }
    assert body["figures"] == expected
    assert body["figures"]["fiscal_capital_fen"] == 10_000_000
    assert body["figures"]["members"] == 6
    assert (body["association_id"], body["as_of"]) == (a, "2024-06-30")
    assert body["suggestion"]["grade"] == suggestion.grade.value
    assert body["suggestion"]["score"] == suggestion.score
    assert [r["message_zh"] for r in body["suggestion"]["reasons"]] == [
        r.message_zh for r in suggestion.reasons
    ]
    assert body["suggestion"]["reasons"], "the seeded association has no low-income members"
    indicators = {i["key"]: i for i in body["indicators"]}
    assert indicators["fund_total"]["value"] == "100000.00"
    assert indicators["fund_total"]["label_en"] == "Fund total"
    assert [r["item"] for r in body["rows"]][:2] == ["1、基本情况", "1.1 扶贫资金互助会名称"]


def test_xlsx_and_csv_downloads_hold_the_same_figures(
    client_for: ClientFor, seeded: Seeded
) -> None:
    a = seeded.world.a.id
    client = client_for("treasurer_a")
    body = client.get(
        f"/api/v1/associations/{a}/evaluation", params={"as_of": AS_OF.isoformat()}
    ).json()
    xlsx = client.get(
        f"/api/v1/associations/{a}/reports/evaluation", params={"as_of": AS_OF.isoformat()}
    )
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "evaluation-" in xlsx.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.content))["附件1 等级评估表"]
    cells = [
        [str(c) if c is not None else "" for c in row]
        for row in sheet.iter_rows(min_row=4, max_col=4, values_only=True)
    ]
    expected = [[r["item"], r["unit"], r["content"], r["note"]] for r in body["rows"]]
    assert cells[: len(expected)] == expected
    by_item = {row[0].strip(): row for row in cells}
    assert by_item["1.6 经费来源"][2] == "100000.00"
    assert by_item["1.7 农户入会情况"][2] == str(body["figures"]["members"])
    grade_row = by_item["4、自评等级和存在主要问题"]
    assert f"系统建议 {body['suggestion']['grade']}" in grade_row[2]

    csv_response = client.get(
        f"/api/v1/associations/{a}/reports/evaluation",
        params={"as_of": AS_OF.isoformat(), "format": "csv"},
    )
    assert csv_response.status_code == 200
    rows = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig"))))
    assert rows[1:] == [
        [r["item"].strip(), r["unit"], r["content"], r["note"]] for r in body["rows"]
    ]


def test_another_countys_officer_cannot_see_the_evaluation(
    client_for: ClientFor, seeded: Seeded
) -> None:
    a = seeded.world.a.id
    for path in ("evaluation", "reports/evaluation"):
        refused = client_for("officer_other").get(
            f"/api/v1/associations/{a}/{path}", params={"as_of": AS_OF.isoformat()}
        )
        assert refused.status_code == 404
    other = client_for("treasurer_b").get(
        f"/api/v1/associations/{a}/evaluation", params={"as_of": AS_OF.isoformat()}
    )
    assert other.status_code in (403, 404)
