"""The association evaluation (附件1) on the console: reached from the reports page, the
figures with their labels, charts, the suggested grade with the reason for each deduction in
the page's language, and the table's downloads."""

from __future__ import annotations

import re

from tests.api.conftest import Seeded
from tests.web.conftest import SignIn


def test_reports_page_leads_to_the_evaluation_with_grade_and_reasons(
    browser: SignIn, seeded: Seeded
) -> None:
    a = seeded.world.a
    client = browser("officer")
    reports = client.get("/console/reports").text
    assert 'action="/console/reports/evaluation"' in reports
    assert f'name="association_id" value="{a.id}"' in reports

    page = client.get(
        "/console/reports/evaluation", params={"association_id": a.id, "as_of": "2024-06-30"}
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert "系统建议等级" in html
    grade = re.search(r'<strong id="suggested-grade">([ABCD])</strong>', html)
    assert grade
    assert grade.group(1) == "A"  # 100 less 5 for having no low-income members
    assert "得分 95" in html
    assert "低收入农户占会员比例 0%，低于 30%：扣 5 分" in html
    assert "资金总量" in html
    assert "100000.00" in html
    assert html.count('<svg class="chart"') == 3
    xlsx = re.search(r'<a href="([^"]+)" id="download-xlsx">', html)
    assert xlsx
    download = client.get(xlsx.group(1).replace("&amp;", "&"))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")

    client.get("/lang/en")
    english = client.get(
        "/console/reports/evaluation", params={"association_id": a.id, "as_of": "2024-06-30"}
    ).text
    assert "Suggested grade" in english
    assert "Score 95" in english
    assert "low-income share of members 0% is below 30%: minus 5 points" in english
    assert "Fund total" in english
    assert "Shares the grade is scored on" in english


def test_a_treasurer_sees_only_their_own_associations_evaluation(
    browser: SignIn, seeded: Seeded
) -> None:
    client = browser("treasurer_a")
    own = client.get(
        "/console/reports/evaluation",
        params={"association_id": seeded.world.a.id, "as_of": "2024-06-30"},
    )
    assert own.status_code == 200
    other = client.get(
        "/console/reports/evaluation",
        params={"association_id": seeded.world.b.id, "as_of": "2024-06-30"},
        headers={"Accept": "text/html"},
    )
    assert other.status_code in (403, 404)
    assert "系统建议等级" not in other.text
