"""批量代发/代扣 instruction files: render (institution side) and parse (bank side)."""

from __future__ import annotations

from adapters.cn_text.codec import Codec, RawFile, Values, field_getter
from adapters.cn_text.layout import FileSpec, Layout
from adapters.errors import FileFormatError, RenderError
from adapters.records import MAX_AMOUNT_FEN, Batch, Direction, PaymentInstruction

_KEYS = {Direction.DISBURSEMENT: "disbursement", Direction.COLLECTION: "collection"}


def instruction_specs(layout: Layout) -> list[FileSpec]:
    return [layout.files[key] for key in ("disbursement", "collection") if key in layout.files]


def validate_batch(layout: Layout, batch: Batch) -> FileSpec:
    """Refuse a batch this layout cannot carry faithfully; return its file spec."""
    key = _KEYS[batch.direction]
    spec = layout.files.get(key)
    if spec is None:
        raise RenderError(f"layout {layout.name} has no {key} file")
    if not batch.instructions:
        raise RenderError(f"batch {batch.message_id}: an empty batch cannot be sent")
    detail = spec.detail
    seen: set[str] = set()
    for n, item in enumerate(batch.instructions, start=1):
        where = f"batch {batch.message_id} instruction {n} ({item.end_to_end_id!r})"
        if not item.end_to_end_id.strip():
            raise RenderError(f"{where}: end-to-end id is empty")
        if item.end_to_end_id in seen:
            raise RenderError(f"{where}: duplicate end-to-end id")
        seen.add(item.end_to_end_id)
        if item.amount_fen <= 0:
            raise RenderError(f"{where}: amount must be positive, got {item.amount_fen} fen")
        if item.amount_fen > layout.max_amount_fen:
            raise RenderError(
                f"{where}: amount {item.amount_fen} fen exceeds the largest this layout "
                f"allows ({layout.max_amount_fen} fen)"
            )
        own = (
            item.debtor_account
            if batch.direction is Direction.DISBURSEMENT
            else item.creditor_account
        )
        if not detail.has("account") and own != batch.special_account:
            raise RenderError(
                f"{where}: account {own!r} differs from the batch's special account and the "
                "layout has no per-line account field"
            )
        if not detail.has("currency") and item.currency != "CNY":
            raise RenderError(f"{where}: layout carries CNY only, got {item.currency!r}")
        if not detail.has("requested_date") and item.requested_date != batch.requested_date:
            raise RenderError(
                f"{where}: requested date differs from the batch's and the layout has no "
                "per-line date field"
            )
    if batch.control_sum_fen > MAX_AMOUNT_FEN:
        raise RenderError(
            f"batch {batch.message_id}: control sum {batch.control_sum_fen} fen exceeds the "
            f"largest allowed ({MAX_AMOUNT_FEN} fen); split the batch"
        )
    return spec


def render_batch(layout: Layout, batch: Batch) -> bytes:
    spec = validate_batch(layout, batch)
    values = Values(layout)
    total = values.format_amount(batch.control_sum_fen)
    header = {
        "message_id": batch.message_id,
        "special_account": batch.special_account,
        "special_account_name": batch.special_account_name,
        "requested_date": values.format_date(batch.requested_date),
        "created_at": values.format_datetime(batch.created_at),
        "count": str(batch.control_count),
        "sum": total,
        "bank_code": batch.bank_code,
        "initiator_name": batch.initiator_name,
        "creditor_scheme_id": batch.creditor_scheme_id or "",
    }
    disbursement = batch.direction is Direction.DISBURSEMENT
    details = []
    for n, item in enumerate(batch.instructions, start=1):
        own, own_name, other, other_name = (
            (item.debtor_account, item.debtor_name, item.creditor_account, item.creditor_name)
            if disbursement
            else (item.creditor_account, item.creditor_name, item.debtor_account, item.debtor_name)
        )
        details.append(
            {
                "seq": str(n),
                "end_to_end_id": item.end_to_end_id,
                "amount": values.format_amount(item.amount_fen),
                "account": own,
                "account_name": own_name,
                "counterparty_account": other,
                "counterparty_name": other_name,
                "currency": item.currency,
                "requested_date": values.format_date(item.requested_date),
                "remittance": item.remittance,
                "purpose": item.purpose,
                "mandate_id": item.mandate_id or "",
                "mandate_signed_on": (
                    values.format_date(item.mandate_signed_on) if item.mandate_signed_on else ""
                ),
            }
        )
    trailer = {"count": str(batch.control_count), "sum": total}
    return Codec(layout).render(spec, header, details, trailer)


def parse(layout: Layout, data: bytes) -> Batch:
    specs = instruction_specs(layout)
    if not specs:
        raise FileFormatError(f"layout {layout.name} describes no instruction file")
    raw = Codec(layout).read(specs, data, "disbursement or collection")
    return _batch(layout, raw)


def _batch(layout: Layout, raw: RawFile) -> Batch:
    spec = raw.spec
    values = Values(layout)
    head = field_getter(spec.header, raw.header)
    message_id = head["message_id"].strip()
    if not message_id:
        raise FileFormatError("message id is empty", location="line 1", field="message_id")
    created_at = values.to_datetime(head["created_at"], 1, "created_at")
    requested = values.to_date(head["requested_date"], 1, "requested_date")
    special_account = head.get("special_account", "").strip()
    special_name = head.get("special_account_name", "").strip()
    direction = Direction.DISBURSEMENT if spec.key == "disbursement" else Direction.COLLECTION
    if not raw.detail_count:
        raise FileFormatError(
            "file holds no detail records", location=f"line {raw.first_detail_line}"
        )
    instructions: list[PaymentInstruction] = []
    seen: dict[str, int] = {}
    for offset, row in enumerate(raw.details()):
        lineno = raw.first_detail_line + offset
        item = field_getter(spec.detail, row)
        if "seq" in item:
            seq = values.count(item["seq"], lineno, "seq")
            if seq != offset + 1:
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
        amount = values.amount(item["amount"], lineno, "amount")
        own = item.get("account", special_account).strip()
        own_name = item.get("account_name", special_name).strip()
        other = item["counterparty_account"].strip()
        other_name = item["counterparty_name"].strip()
        if not other:
            raise FileFormatError(
                "account is empty", location=f"line {lineno}", field="counterparty_account"
            )
        if not other_name:
            raise FileFormatError(
                "account name is empty", location=f"line {lineno}", field="counterparty_name"
            )
        mandate_text = item.get("mandate_signed_on", "")
        currency = item.get("currency", "CNY").strip() or "CNY"
        if not (len(currency) == 3 and currency.isascii() and currency.isupper()):
            raise FileFormatError(
                "not a currency code", location=f"line {lineno}", field="currency", value=currency
            )
        debtor, debtor_name, creditor, creditor_name = (
            (own, own_name, other, other_name)
            if direction is Direction.DISBURSEMENT
            else (other, other_name, own, own_name)
        )
        instructions.append(
            PaymentInstruction(
                end_to_end_id=e2e,
                amount_fen=amount,
                debtor_account=debtor,
                debtor_name=debtor_name,
                creditor_account=creditor,
                creditor_name=creditor_name,
                requested_date=(
                    values.to_date(item["requested_date"], lineno, "requested_date")
                    if item.get("requested_date", "").strip()
                    else requested
                ),
                currency=currency,
                remittance=item.get("remittance", "").strip(),
                purpose=item.get("purpose", "").strip(),
                mandate_id=item.get("mandate_id", "").strip() or None,
                mandate_signed_on=values.optional_date(mandate_text, lineno, "mandate_signed_on"),
            )
        )
    batch = Batch(
        message_id=message_id,
        direction=direction,
        special_account=special_account,
        special_account_name=special_name,
        created_at=created_at,
        requested_date=requested,
        instructions=tuple(instructions),
        bank_code=head.get("bank_code", "").strip(),
        initiator_name=head.get("initiator_name", "").strip(),
        creditor_scheme_id=head.get("creditor_scheme_id", "").strip() or None,
    )
    _check_totals(values, raw, batch)
    return batch


def _check_totals(values: Values, raw: RawFile, batch: Batch) -> None:
    spec = raw.spec
    records = [(spec.header, raw.header, 1)]
    if spec.trailer is not None and raw.trailer is not None:
        records.append((spec.trailer, raw.trailer, raw.trailer_line))
    for record, row, lineno in records:
        fields = field_getter(record, row)
        values.check_total(fields.get("count"), batch.control_count, lineno, "count", is_sum=False)
        values.check_total(fields.get("sum"), batch.control_sum_fen, lineno, "sum", is_sum=True)
