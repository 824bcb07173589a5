"""The one check of a report's period, for every report (附件1–3, monthly and annual reports)
and every way of asking for one (command line, API, console).

A period runs from ``since`` (inclusive; None: from the association's start) to ``as_of``
(inclusive); one whose start falls after its end is refused. A report year must be one a
calendar date can carry (1–9999). Both refusals are :class:`ValidationFailed`: one line and
exit 1 on the command line, 422 in the problem format over HTTP.
"""

from __future__ import annotations

from datetime import date

from gateway.errors import ValidationFailed

MIN_YEAR = date.min.year
MAX_YEAR = date.max.year


def check_period(since: date | None, as_of: date) -> None:
    """Refuse a period that runs backwards (``since`` after ``as_of``)."""
    if since is not None and since > as_of:
        raise ValidationFailed(
            f"报表期间无效：起始日 {since.isoformat()} 晚于截止日 {as_of.isoformat()}",
            f"invalid report period: it starts on {since.isoformat()}, "
            f"after its end {as_of.isoformat()}",
            code="report_period_reversed",
            since=since.isoformat(),
            as_of=as_of.isoformat(),
        )


def check_year(year: int) -> None:
    """Refuse a report year no date can carry."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationFailed(
            f"报表年份无效：{year}（须在 {MIN_YEAR} 到 {MAX_YEAR} 之间）",
            f"invalid report year {year}: it must be {MIN_YEAR}..{MAX_YEAR}",
            code="report_year_out_of_range",
            year=year,
        )
