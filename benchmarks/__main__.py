"""Run the benchmarks and write docs/benchmarks.md.

``python -m benchmarks`` runs them all; ``--only NAME`` (a module name without ``bench_``,
repeatable) runs some and keeps the other sections of the file as they were.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import re
import sys
import time
from pathlib import Path

from benchmarks import Section

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"
_SECTION = re.compile(r"^<!-- bench:(?P<name>[\w-]+) -->$", re.MULTILINE)


def _machine() -> str:
    mem_kib = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s+(\d+)", meminfo.read_text())
        mem_kib = int(match.group(1)) if match else 0
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = match.group(1).strip() if match else cpu
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"{mem_kib // 1024 // 1024} GiB memory, Python {platform.python_version()}"
    )


def _available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


def _existing_sections() -> dict[str, str]:
    if not OUTPUT.exists():
        return {}
    text = OUTPUT.read_text(encoding="utf-8")
    marks = list(_SECTION.finditer(text))
    sections: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        sections[mark.group("name")] = text[mark.end() : end].strip("\n")
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", action="append", choices=_available(), default=None)
    args = parser.parse_args(argv)
    names = args.only or _available()
    sections = _existing_sections()
    failed: list[str] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"running {name} …", flush=True)
        started = time.perf_counter()
        section: Section = module.run()
        elapsed = time.perf_counter() - started
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        section.notes.append(f"run {stamp}, {elapsed:.0f} s in all")
        sections[name] = section.to_markdown()
        print(section.to_markdown(), flush=True)
        failed.extend(f"{name}: {m.name}" for m in section.measurements if not m.ok)
    command = "make bench" + (
        " BENCH_ARGS='" + " ".join(f"--only {n}" for n in names) + "'" if args.only else ""
    )
    body = [
        "# Benchmarks",
        "",
        f"Machine: {_machine()}.",
        "",
        f"Command: `{command}` (each section notes when it was last run).",
        "",
    ]
    for name in sorted(sections):
        body += [f"<!-- bench:{name} -->", sections[name], ""]
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text("\n".join(body), encoding="utf-8")
    if failed:
        print("targets missed: " + "; ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
