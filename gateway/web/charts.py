"""Small charts drawn on the server as inline SVG: no script, no outside assets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from unicodedata import east_asian_width

from markupsafe import Markup


@dataclass(frozen=True)
class Bar:
    label: str
    value: int  # fen (or a count); drawn to scale, labelled with ``text``
    text: str
    warn: bool = False


FONT_SIZE = 12  # of the chart's text, in the SVG's units (``.chart text`` in the style sheet)


def text_width(text: str) -> int:
    """About how wide ``text`` is drawn, in the SVG's units: a Chinese character takes a full
    em, a Latin letter or digit a little over half."""
    return sum(FONT_SIZE if east_asian_width(c) in "WF" else 7 for c in text)


def _fit(text: str, room: int) -> str:
    """``text``, cut with an ellipsis when it would be drawn wider than ``room``."""
    if text_width(text) <= room:
        return text
    while text and text_width(text) + FONT_SIZE > room:
        text = text[:-1]
    return text + "…"


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 640, row: int = 26) -> Markup:
    """A horizontal bar chart; each bar labelled, warning bars marked, readable without CSS.

    The labels' column is as wide as the longest label (up to half the chart), so a long
    association name is not cut off at the left edge."""
    longest = max((text_width(b.label) for b in bars), default=0)
    label_width = min(max(longest + 12, 60), width // 2)
    value_width = 120
    plot = max(width - label_width - value_width, 50)
    top = max((b.value for b in bars), default=0)
    height = row * max(len(bars), 1) + 8
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for index, bar in enumerate(bars):
        y = 4 + index * row
        length = 0 if top <= 0 else round(plot * max(bar.value, 0) / top)
        css = "bar warn" if bar.warn else "bar"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + row * 0.65:.1f}" text-anchor="end">'
            f"<title>{escape(bar.label)}</title>{escape(_fit(bar.label, label_width - 12))}</text>"
            f'<rect class="{css}" x="{label_width}" y="{y + 3}" width="{length}" '
            f'height="{row - 8}"></rect>'
            f'<text x="{label_width + length + 6}" y="{y + row * 0.65:.1f}">'
            f"{escape(bar.text)}</text>"
        )
    if not bars:
        parts.append(f'<text x="10" y="{row * 0.65:.1f}">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
