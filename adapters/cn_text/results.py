"""回盘 result files: parse (institution side) and render (bank side).

Each detail line carries the requested amount, the amount that actually moved, a status
text (成功/失败/部分扣款/处理中, from the layout) and the bank's reason text, which is mapped
to an ISO 20022 reason code and kept verbatim.
"""

from __future__ import annotations

from adapters.cn_text.codec import Codec, Values, field_getter
from adapters.cn_text.layout import FileSpec, Layout
from adapters.errors import FileFormatError, RenderError
from adapters.records import Batch, Direction, InstructionResult, ResultFile, ResultStatus

_MOVED = (ResultStatus.SETTLED, ResultStatus.PARTIALLY_SETTLED)


def result_spec(layout: Layout) -> FileSpec:
    spec = layout.files.get("result")
    if spec is None:
        raise FileFormatError(f"layout {layout.name} describes no result file")
    return spec


def parse(layout: Layout, data: bytes) -> ResultFile:
    spec = result_spec(layout)
    raw = Codec(layout).read([spec], data, "result (回盘)")
    values = Values(layout)
    head = field_getter(spec.header, raw.header)
    message_id = head["message_id"].strip()
    if not message_id:
        raise FileFormatError("message id is empty", location="line 1", field="message_id")
    created_text = head.get("created_at", "").strip()
    created_at = values.to_datetime(created_text, 1, "created_at") if created_text else None
    results: list[InstructionResult] = []
    seen: dict[str, int] = {}
    requested_sum = settled_sum = settled_count = 0
    for offset, row in enumerate(raw.details()):
        lineno = raw.first_detail_line + offset
        item = field_getter(spec.detail, row)
        if "seq" in item and values.count(item["seq"], lineno, "seq") != offset + 1:
            raise FileFormatError(
                f"sequence number out of order (expected {offset + 1})",
                location=f"line {lineno}",
                field="seq",
                value=item["seq"],
            )
        e2e = item["end_to_end_id"].strip()
        if not e2e:
            raise FileFormatError(
                "end-to-end id is empty", location=f"line {lineno}", field="end_to_end_id"
            )
        if e2e in seen:
            raise FileFormatError(
                f"duplicate end-to-end id (first on line {seen[e2e]})",
                location=f"line {lineno}",
                field="end_to_end_id",
                value=e2e,
            )
        seen[e2e] = lineno
        requested = values.amount(item["amount"], lineno, "amount")
        settled = values.amount(item["settled_amount"], lineno, "settled_amount", allow_zero=True)
        status_text = item["status"].strip()
        status = layout.status_texts.get(status_text)
        if status is None:
            raise FileFormatError(
                f"unknown status text (known: {', '.join(layout.status_texts)})",
                location=f"line {lineno}",
                field="status",
                value=status_text,
            )
        _check_amounts(status, requested, settled, lineno, item["settled_amount"])
        reason_text = item.get("reason", "").strip()
        reason_code: str | None = None
        if status in (ResultStatus.REJECTED, ResultStatus.PARTIALLY_SETTLED):
            reason_code = layout.reason_code_for(reason_text or status_text)
        booking_text = item.get("booking_date", "")
        results.append(
            InstructionResult(
                end_to_end_id=e2e,
                status=status,
                settled_amount_fen=settled,
                requested_amount_fen=requested,
                reason_code=reason_code,
                reason_text=reason_text,
                booking_date=values.optional_date(booking_text, lineno, "booking_date"),
            )
        )
        requested_sum += requested
        settled_sum += settled
        settled_count += status in _MOVED
    records = [(spec.header, raw.header, 1)]
    if spec.trailer is not None and raw.trailer is not None:
        records.append((spec.trailer, raw.trailer, raw.trailer_line))
    for record, row, lineno in records:
        fields = field_getter(record, row)
        values.check_total(fields.get("count"), len(results), lineno, "count", is_sum=False)
        values.check_total(fields.get("sum"), requested_sum, lineno, "sum", is_sum=True)
        values.check_total(
            fields.get("settled_count"), settled_count, lineno, "settled_count", is_sum=False
        )
        values.check_total(
            fields.get("settled_sum"), settled_sum, lineno, "settled_sum", is_sum=True
        )
    if not results:
        raise FileFormatError(
            "file holds no detail records", location=f"line {raw.first_detail_line}"
        )
    original = head.get("original_message_id", "").strip() or None
    return ResultFile(
        message_id=message_id,
        original_message_id=original,
        created_at=created_at,
        results=tuple(results),
    )


def _check_amounts(
    status: ResultStatus, requested: int, settled: int, lineno: int, text: str
) -> None:
    problem = None
    if status is ResultStatus.SETTLED and settled != requested:
        problem = "a settled instruction must settle the requested amount"
    elif status is ResultStatus.PARTIALLY_SETTLED and not 0 < settled < requested:
        problem = "a partial debit settles more than zero and less than requested"
    elif status in (ResultStatus.REJECTED, ResultStatus.ACCEPTED) and settled != 0:
        problem = f"a {status.value} instruction has moved no money"
    if problem:
        raise FileFormatError(
            problem, location=f"line {lineno}", field="settled_amount", value=text
        )


def render(layout: Layout, result: ResultFile, batch: Batch) -> bytes:
    spec = result_spec(layout)
    values = Values(layout)
    by_id = {item.end_to_end_id: item for item in batch.instructions}
    if not result.results:
        raise RenderError(f"result {result.message_id}: no instruction results to render")
    details = []
    seen: set[str] = set()
    requested_sum = settled_sum = settled_count = 0
    for n, res in enumerate(result.results, start=1):
        where = f"result {result.message_id} line {n} ({res.end_to_end_id!r})"
        item = by_id.get(res.end_to_end_id)
        if item is None:
            raise RenderError(f"{where}: not an instruction of batch {batch.message_id}")
        if res.end_to_end_id in seen:
            raise RenderError(f"{where}: duplicate end-to-end id")
        seen.add(res.end_to_end_id)
        requested = item.amount_fen
        if res.requested_amount_fen is not None and res.requested_amount_fen != requested:
            raise RenderError(
                f"{where}: requested {res.requested_amount_fen} fen, the batch says {requested}"
            )
        try:
            _check_amounts(res.status, requested, res.settled_amount_fen, n, "")
        except FileFormatError as exc:
            raise RenderError(f"{where}: {exc.reason}") from None
        counterparty, counterparty_name = (
            (item.creditor_account, item.creditor_name)
            if batch.direction is Direction.DISBURSEMENT
            else (item.debtor_account, item.debtor_name)
        )
        reason = res.reason_text
        if not reason and res.reason_code:
            reason = layout.reason_text_for(res.reason_code)
        details.append(
            {
                "seq": str(n),
                "end_to_end_id": res.end_to_end_id,
                "counterparty_account": counterparty,
                "counterparty_name": counterparty_name,
                "amount": values.format_amount(requested),
                "settled_amount": values.format_amount(res.settled_amount_fen),
                "status": layout.status_render[res.status],
                "reason": reason,
                "booking_date": values.format_date(res.booking_date) if res.booking_date else "",
            }
        )
        requested_sum += requested
        settled_sum += res.settled_amount_fen
        settled_count += res.status in _MOVED
    totals = {
        "count": str(len(details)),
        "sum": values.format_amount(requested_sum),
        "settled_count": str(settled_count),
        "settled_sum": values.format_amount(settled_sum),
    }
    header = {
        "message_id": result.message_id,
        "original_message_id": result.original_message_id or batch.message_id,
        "created_at": values.format_datetime(result.created_at) if result.created_at else "",
        **totals,
    }
    return Codec(layout).render(spec, header, details, totals)
