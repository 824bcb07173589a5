"""cn_text: parse a 1,000,000-line 对账单 statement (rcb_pipe layout, GB18030)."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from adapters.cn_text import CnTextAdapter
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


def run() -> Section:
    section = Section(TITLE)
    adapter = CnTextAdapter.from_options({"layout": "layouts/rcb_pipe.toml"}, config_dir=BANKS)
    data = build_statement(LINES)
    best = cpu_best = float("inf")
    entries = 0
    load_before = os.getloadavg()[0]
    for _ in range(2):
        started, cpu_started = time.perf_counter(), time.process_time()
        (statement,) = adapter.parse_statements(data)
        best = min(best, time.perf_counter() - started)
        cpu_best = min(cpu_best, time.process_time() - cpu_started)
        entries = len(statement.entries)
        del statement
    assert entries == LINES
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    section.add(
        f"parse {LINES:,}-line statement ({len(data) / 1e6:.0f} MB GB18030), wall clock",
        f"{best:.2f} s ({entries / best / 1e3:.0f}k lines/s)",
        f"< {TARGET_SECONDS:.0f} s",
        best < TARGET_SECONDS,
    )
    section.add(
        "same, CPU time of the parsing process",
        f"{cpu_best:.2f} s",
        "reported",
        True,
    )
    section.add(
        "peak resident memory of the process (file bytes and statement included)",
        f"{peak_kib / 1024:.0f} MiB",
        "reported",
        True,
    )
    section.notes.append(
        f"load average when the run started: {load_before:.1f} on {os.cpu_count()} cores "
        "(wall clock includes waiting for a core; CPU time does not)."
    )
    section.notes.append(
        "best of two runs; every line is decoded, split, checked (dates, amounts, debit/credit "
        "marks, sub-account known, control totals) and turned into a StatementEntry."
    )
    return section
