"""Small charts drawn on the server as inline SVG: no script, no outside assets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Bar:
    label: str
    value: int  # fen (or a count); drawn to scale, labelled with ``text``
    text: str
    warn: bool = False


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 640, row: int = 26) -> Markup:
    """A horizontal bar chart; each bar labelled, warning bars marked, readable without CSS."""
    label_width = 170
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
            f"{escape(bar.label)}</text>"
            f'<rect class="{css}" x="{label_width}" y="{y + 3}" width="{length}" '
            f'height="{row - 8}"></rect>'
            f'<text x="{label_width + length + 6}" y="{y + row * 0.65:.1f}">'
            f"{escape(bar.text)}</text>"
        )
    if not bars:
        parts.append(f'<text x="10" y="{row * 0.65:.1f}">—</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
