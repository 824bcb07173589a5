"""Benchmarks run by ``make bench``; results are written to ``docs/benchmarks.md``.

Each module ``benchmarks/bench_*.py`` defines ``TITLE: str`` and ``run() -> Section``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Measurement:
    """One measured figure and the target it is held to."""

    name: str
    value: str
    target: str
    ok: bool


@dataclass
class Section:
    """One benchmark's write-up in docs/benchmarks.md."""

    title: str
    measurements: list[Measurement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str, target: str, ok: bool) -> None:
        self.measurements.append(Measurement(name, value, target, ok))

    def to_markdown(self) -> str:
        lines = [
            f"## {self.title}",
            "",
            "| measurement | result | target | met |",
            "|---|---|---|---|",
        ]
        for m in self.measurements:
            lines.append(f"| {m.name} | {m.value} | {m.target} | {'yes' if m.ok else '**no**'} |")
        if self.notes:
            lines.append("")
            lines.extend(f"- {note}" for note in self.notes)
        lines.append("")
        return "\n".join(lines)
