"""The console's bar charts draw each label whole inside the chart: a long association name
widens the labels' column instead of running off the left edge."""

from __future__ import annotations

import re

from gateway.web.charts import Bar, bar_chart, text_width

LONG = "界湖街道北寨村扶贫互助资金协会"  # 15 characters, as the demo county's names are


def _labels(svg: str) -> list[tuple[float, str, str]]:
    """(x of the label's right end, full name, drawn text) of each bar's label."""
    return [
        (float(x), title, drawn)
        for x, title, drawn in re.findall(
            r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end">'
            r"<title>([^<]*)</title>([^<]*)</text>",
            svg,
        )
    ]


def test_a_long_chinese_name_fits_left_of_its_bar() -> None:
    svg = str(bar_chart([Bar(LONG, 100, "1.00"), Bar("YN-002", 50, "0.50")], title="余额"))
    labels = _labels(svg)
    assert [title for _, title, _ in labels] == [LONG, "YN-002"]
    for right_end, title, drawn in labels:
        assert drawn == title  # nothing cut
        assert right_end - text_width(drawn) >= 0  # starts inside the chart
    (first_bar_x,) = re.findall(r'<rect class="bar" x="(\d+)"', svg)[:1]
    assert int(first_bar_x) > text_width(LONG)


def test_a_name_longer_than_half_the_chart_is_shortened_with_the_full_name_kept() -> None:
    name = LONG * 3
    svg = str(bar_chart([Bar(name, 100, "1.00")], title="余额", width=640))
    ((right_end, title, drawn),) = _labels(svg)
    assert title == name
    assert drawn.endswith("…")
    assert name.startswith(drawn[:-1])
    assert right_end - text_width(drawn) >= 0
