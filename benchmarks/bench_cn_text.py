"""cn_text: parse a 1,000,000-line 对账单 statement (rcb_pipe layout, GB18030)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import Section

TITLE = "cn_text statement parsing"
LINES = 1_000_000
TARGET_SECONDS = 5.0
BANKS = Path(__file__).resolve().parent.parent / "config" / "banks"
SUBS = 300  # sub-accounts: a county's associations
SUMMARIES = ("批量代发", "批量代扣", "跨行汇款", "现金存款", "手续费", "结息")
NAMES = ("张三", "李四", "王秀英", "吉𠮷", "欧阳㐀", "赵六")


def build_statement(lines: int) -> bytes:
    """A statement as a bank writes it: balances per sub-account, then ``lines`` details."""
    sub_ids = [f"623091010000001234{n:05d}" for n in range(SUBS)]
    moved = dict.fromkeys(sub_ids, 0)
    details: list[str] = []
    debit_sum = credit_sum = debit_count = 0
    for n in range(1, lines + 1):
        sub = sub_ids[n % SUBS]
        fen = 100 + (n * 7919) % 3_000_000
        debit = n % 3 == 0
        summary = SUMMARIES[n % len(SUMMARIES)]
        if debit:
            debit_sum += fen
            debit_count += 1
            moved[sub] -= fen
        else:
            credit_sum += fen
            moved[sub] += fen
        day = 1 + n * 28 // (lines + 1)
        details.append(
            f"D|{n}|BK202405{n:011d}|202405{day:02d}|202405{day:02d}|{sub}|"
            f"{'借' if debit else '贷'}|{fen // 100}.{fen % 100:02d}||"
            f"62170000{n % 10**11:011d}|{NAMES[n % len(NAMES)]}|{summary}|第{n % 12 + 1}期|"
            f"HZE{n:09d}|0||"
        )

    def yuan(fen: int) -> str:
        return f"{fen // 100}.{fen % 100:02d}"

    opening = 10**12
    balances = [f"B|{sub}|{yuan(opening)}|{yuan(opening + moved[sub])}|" for sub in sub_ids]
    total_open = opening * SUBS
    total_close = total_open + credit_sum - debit_sum

    header = (
        f"H|DZ|DZ202405|6230910100000012345|平邑县扶贫互助资金专户|CNY|20240501|20240528|"
        f"20240529020000|{yuan(total_open)}|{yuan(total_close)}|"
    )
    trailer = f"T|{lines}|{debit_count}|{yuan(debit_sum)}|{lines - debit_count}|{yuan(credit_sum)}|"
    return ("\r\n".join([header, *balances, *details, trailer]) + "\r\n").encode("gb18030")


# Parsing runs in a fresh interpreter so that its peak memory is the parser's own (the
# file's bytes and the statement), not the generator's.
_CHILD = """
import json, sys, time
from pathlib import Path
from adapters.cn_text import CnTextAdapter
options = {"layout": "layouts/rcb_pipe.toml"}
adapter = CnTextAdapter.from_options(options, config_dir=Path(sys.argv[2]))
data = Path(sys.argv[1]).read_bytes()
wall = cpu = float("inf")
entries = 0
for _ in range(2):
    start, started_cpu = time.perf_counter(), time.process_time()
    (statement,) = adapter.parse_statements(data)
    wall = min(wall, time.perf_counter() - start)
    cpu = min(cpu, time.process_time() - started_cpu)
    entries = len(statement.entries)
    del statement
status = Path("/proc/self/status").read_text()
peak_kb = int(status.split("VmHWM:")[1].split()[0])
print(json.dumps({"wall": wall, "cpu": cpu, "entries": entries, "peak_kb": peak_kb}))
"""


def _parse_in_child(path: Path) -> dict[str, float]:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(BANKS)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def run() -> Section:
    section = Section(TITLE)
    data = build_statement(LINES)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "statement.txt"
        path.write_bytes(data)
        child = _parse_in_child(path)
    load_after = os.getloadavg()[0]
    entries, best, cpu_best = int(child["entries"]), child["wall"], child["cpu"]
    section.add(
        f"parse {LINES:,}-line statement ({len(data) / 1e6:.0f} MB GB18030), wall clock",
        f"{best:.2f} s ({entries / best / 1e3:.0f}k lines/s)",
        f"< {TARGET_SECONDS:.0f} s",
        best < TARGET_SECONDS and entries == LINES,
    )
    section.add(
        "same, CPU time of the parsing process",
        f"{cpu_best:.2f} s",
        "reported",
        True,
    )
    section.add(
        "peak resident memory of the parsing process (file bytes and statement included)",
        f"{child['peak_kb'] / 1024:.0f} MiB",
        "reported",
        True,
    )
    section.notes.append(
        f"load average {load_before:.1f} when parsing started and {load_after:.1f} when it "
        f"ended, on {os.cpu_count()} cores (wall clock includes waiting for a core; CPU time "
        "does not)."
    )
    section.notes.append(
        "best of two runs in a fresh process; every line is decoded, split, checked (dates, "
        "amounts, debit/credit marks, sub-account known, control totals) and turned into a "
        "StatementEntry."
    )
    return section
