"""Payment status report: pain.002 (回盘), read from version .03 through .14, written as .10.

Reading: every ``TxInfAndSts`` of every ``OrgnlPmtInfAndSts`` block (and any at message
level) becomes one ``InstructionResult``. ``TxSts`` maps to ``ResultStatus``; the reason is
``StsRsnInf/Rsn/Cd`` (or ``Prtry``) and the bank's words in ``AddtlInf`` are kept verbatim
(several ``AddtlInf`` are joined one per line). A transaction without ``TxSts``
inherits its block's ``PmtInfSts``, then the group status. The requested amount is
``OrgnlTxRef/Amt/InstdAmt``; the amount that actually moved is ``OrgnlTxRef/IntrBkSttlmAmt``
when the bank gives it (partial collections), otherwise the requested amount for settled or
partial transactions and 0 for accepted-not-yet-settled and rejected ones. Both amounts must
be in CNY (``currency=None`` reads any currency, for other projects' sample files) and
within ``MAX_AMOUNT_FEN``.

A block answered as a whole (``PmtInfSts`` and no ``TxInfAndSts``) becomes a
``BlockStatus`` (its ``OrgnlPmtInfId``, ``OrgnlNbOfTxs`` and reason): the file does not list
the instructions it answers, so which they are is left to the gateway, which knows the batch.

Control totals: each ``NbOfTxsPerSts`` of ``OrgnlGrpInfAndSts`` (or of an
``OrgnlPmtInfAndSts`` block), when given, counts the original transactions with that status;
the file (or block) may list fewer of them (a report of the exceptions only: those not listed
stay unanswered, and the gateway chases a batch left unanswered), never more. Where it lists
them all, ``DtldCtrlSum`` must be the sum of their requested amounts. A status the listed
transactions carry that no ``NbOfTxsPerSts`` names contradicts the counts and is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from adapters.errors import ControlTotalError, FileFormatError, RenderError
from adapters.iso20022.initiation import (
    CREDIT_TRANSFER_LAYOUT,
    DIRECT_DEBIT_LAYOUT,
    format_amount,
    payment_blocks,
    text_lines,
)
from adapters.iso20022.messages import STATUS_REPORT, expect_root
from adapters.iso20022.xmlread import Reader, minor_exponent, parse_document, to_minor
from adapters.records import (
    CURRENCY,
    STATUS_CODES,
    Batch,
    BlockStatus,
    Direction,
    InstructionResult,
    PaymentInstruction,
    ResultFile,
    ResultStatus,
)

RENDER_VERSION = 10
_REASON_LINE = 105  # AddtlInf is Max105Text
_COUNT = re.compile(r"^[0-9]{1,15}$")  # Max15NumericText

RENDER_CODES: dict[ResultStatus, str] = {
    ResultStatus.ACCEPTED: "ACCP",
    ResultStatus.SETTLED: "ACSC",
    ResultStatus.PARTIALLY_SETTLED: "PART",
    ResultStatus.REJECTED: "RJCT",
}


def _status(code: str, location: str) -> ResultStatus:
    status = STATUS_CODES.get(code)
    if status is None:
        raise FileFormatError(
            "unknown transaction status code", location=location, field="TxSts", value=code
        )
    return status


def _reason(r: Reader, parent: etree._Element) -> tuple[str | None, str]:
    code: str | None = None
    texts: list[str] = []
    for info in r.findall(parent, "StsRsnInf"):
        if code is None:
            code = r.first_text(info, "Rsn/Cd", "Rsn/Prtry")
        texts.extend(e.text or "" for e in r.findall(info, "AddtlInf"))
    return code, "\n".join(texts)


@dataclass(frozen=True, slots=True)
class _Answer:
    """One transaction status as the control totals see it."""

    code: str  # TxSts as written, or the status it inherits
    requested: tuple[int, str] | None  # OrgnlTxRef/Amt/InstdAmt, (minor units, currency)
    where: str


def parse_status_report(data: bytes, *, currency: str | None = CURRENCY) -> ResultFile:
    """Read a pain.002; ``currency`` is the one currency its amounts must be in (None: any)."""
    root = parse_document(data)
    _, _, ns = expect_root(root, STATUS_REPORT)
    r = Reader(ns, root, "/Document")
    body = r.find(root, STATUS_REPORT.root)
    if body is None:
        raise FileFormatError(
            "missing CstmrPmtStsRpt", location="/Document", field=STATUS_REPORT.root
        )
    header = r.find(body, "GrpHdr")
    if header is None:
        raise FileFormatError("missing GrpHdr", location=r.where(body), field="GrpHdr")
    message_id = r.require(header, "MsgId")
    created_at: datetime | None = r.datetime_at(header, "CreDtTm")
    group = r.find(body, "OrgnlGrpInfAndSts")
    if group is None:
        raise FileFormatError(
            "missing OrgnlGrpInfAndSts", location=r.where(body), field="OrgnlGrpInfAndSts"
        )
    original_id = r.require(group, "OrgnlMsgId")
    group_status = r.text(group, "GrpSts")
    if group_status is not None:
        _status(group_status, r.where_path(group, "GrpSts"))
    group_reason, group_reason_text = _reason(r, group)
    results: list[InstructionResult] = []
    answers: list[_Answer] = []
    seen: dict[str, str] = {}
    block_statuses: list[BlockStatus] = []
    blocks = r.findall(body, "OrgnlPmtInfAndSts")
    body_path = f"/Document/{STATUS_REPORT.root}"
    for b_index, block in enumerate(blocks, start=1):
        block_path = f"{body_path}/OrgnlPmtInfAndSts[{b_index}]"
        block_status = r.text(block, "PmtInfSts") or group_status
        if block_status is not None and block_status not in STATUS_CODES:
            _status(block_status, f"{block_path}/PmtInfSts")
        block_answers: list[_Answer] = []
        transactions = r.findall(block, "TxInfAndSts")
        for t_index, tx in enumerate(transactions, start=1):
            where = f"{block_path}/TxInfAndSts[{t_index}]"
            result, answer = _transaction(r, tx, where, block_status, seen, currency)
            results.append(result)
            block_answers.append(answer)
        own_status = r.text(block, "PmtInfSts")
        if not transactions and own_status is not None:
            block_statuses.append(_block_status(r, block, block_path, own_status))
        _check_per_status(r, block, block_answers, currency)
        answers.extend(block_answers)
    # pain.002.001.02 style: transaction statuses at message level
    for t_index, tx in enumerate(r.findall(body, "TxInfAndSts"), start=1):
        where = f"{body_path}/TxInfAndSts[{t_index}]"
        result, answer = _transaction(r, tx, where, group_status, seen, currency)
        results.append(result)
        answers.append(answer)
    _check_per_status(r, group, answers, currency)
    if not results and group_status is None and not block_statuses:
        raise FileFormatError(
            "status report holds neither a group status nor any transaction status",
            location=r.where(body),
            field="GrpSts",
        )
    return ResultFile(
        message_id=message_id,
        original_message_id=original_id,
        created_at=created_at,
        results=tuple(results),
        group_status=group_status,
        group_reason_code=group_reason,
        group_reason_text=group_reason_text,
        block_statuses=tuple(block_statuses),
    )


def _block_status(r: Reader, block: etree._Element, where: str, code: str) -> BlockStatus:
    """A block answered as a whole (``PmtInfSts``, no ``TxInfAndSts``)."""
    _status(code, f"{where}/PmtInfSts")
    count_text = r.text(block, "OrgnlNbOfTxs")
    if count_text is not None and not _COUNT.match(count_text):
        raise FileFormatError(
            "number of transactions is not a number",
            location=f"{where}/OrgnlNbOfTxs",
            field="OrgnlNbOfTxs",
            value=count_text,
        )
    reason_code, reason_text = _reason(r, block)
    return BlockStatus(
        block_id=r.text(block, "OrgnlPmtInfId"),
        status=code,
        transaction_count=int(count_text) if count_text is not None else None,
        reason_code=reason_code,
        reason_text=reason_text,
        location=where,
    )


def _check_per_status(
    r: Reader, parent: etree._Element, answers: list[_Answer], currency: str | None
) -> None:
    """Refuse the file when ``parent``'s ``NbOfTxsPerSts`` differ from its transactions."""
    declared = r.findall(parent, "NbOfTxsPerSts")
    if not declared:
        return
    by_code: dict[str, list[_Answer]] = {}
    for answer in answers:
        by_code.setdefault(answer.code, []).append(answer)
    named: set[str] = set()
    for per_status in declared:
        code = r.require(per_status, "DtldSts")
        _status(code, r.where_path(per_status, "DtldSts"))
        named.add(code)
        listed = by_code.get(code, [])
        count_text = r.require(per_status, "DtldNbOfTxs")
        if not _COUNT.match(count_text) or int(count_text) < len(listed):
            raise ControlTotalError(
                f"declared number of {code} transactions is less than the {len(listed)} "
                "the file lists",
                location=r.where_path(per_status, "DtldNbOfTxs"),
                field="DtldNbOfTxs",
                value=count_text,
            )
        sum_text = r.text(per_status, "DtldCtrlSum")
        if sum_text is None or int(count_text) != len(listed):
            continue  # a sum over transactions the file does not list cannot be checked
        where = r.where_path(per_status, "DtldCtrlSum")
        missing = next((a for a in listed if a.requested is None), None)
        if missing is not None:
            raise ControlTotalError(
                f"declared sum of {code} transactions cannot be checked: {missing.where} "
                "has no OrgnlTxRef/Amt/InstdAmt",
                location=where,
                field="DtldCtrlSum",
                value=sum_text,
            )
        amounts = [a.requested for a in listed if a.requested is not None]
        exponent = minor_exponent(currency or (amounts[0][1] if amounts else CURRENCY))
        total = sum(minor for minor, _ in amounts)
        if to_minor(sum_text, exponent, location=where, field="DtldCtrlSum") != total:
            whole, part = divmod(total, 10**exponent)
            shown = f"{whole}.{part:0{exponent}d}" if exponent else str(whole)
            raise ControlTotalError(
                f"declared sum of {code} transactions differs from their requested amounts "
                f"({shown})",
                location=where,
                field="DtldCtrlSum",
                value=sum_text,
            )
    unnamed = sorted(set(by_code) - named)
    if unnamed:
        code = unnamed[0]
        raise ControlTotalError(
            f"the file lists {len(by_code[code])} {code} transactions (first at "
            f"{by_code[code][0].where}) that no NbOfTxsPerSts counts",
            location=r.where(parent) + "/NbOfTxsPerSts",
            field="DtldSts",
            value=code,
        )


def _transaction(
    r: Reader,
    tx: etree._Element,
    where: str,
    inherited: str | None,
    seen: dict[str, str],
    currency: str | None,
) -> tuple[InstructionResult, _Answer]:
    end_to_end = r.text(tx, "OrgnlEndToEndId")
    if end_to_end is None:
        raise FileFormatError(
            "transaction status without OrgnlEndToEndId",
            location=f"{where}/OrgnlEndToEndId",
            field="OrgnlEndToEndId",
        )
    if end_to_end in seen:
        raise FileFormatError(
            f"end-to-end id reported twice (first at {seen[end_to_end]})",
            location=f"{where}/OrgnlEndToEndId",
            field="OrgnlEndToEndId",
            value=end_to_end,
        )
    seen[end_to_end] = where
    code = r.text(tx, "TxSts") or inherited
    if code is None:
        raise FileFormatError(
            "transaction has no status (TxSts) and its block none either",
            location=f"{where}/TxSts",
            field="TxSts",
        )
    status = _status(code, f"{where}/TxSts")
    requested = r.amount(tx, "OrgnlTxRef/Amt/InstdAmt", only=currency)
    settled = r.amount(tx, "OrgnlTxRef/IntrBkSttlmAmt", only=currency)
    requested_fen = requested[0] if requested is not None else None
    if settled is not None:
        settled_fen = settled[0]
    elif status in (ResultStatus.SETTLED, ResultStatus.PARTIALLY_SETTLED):
        settled_fen = requested_fen or 0
    else:
        settled_fen = 0
    if status is ResultStatus.REJECTED and settled_fen:
        raise FileFormatError(
            "a rejected transaction cannot have settled an amount",
            location=f"{where}/OrgnlTxRef/IntrBkSttlmAmt",
            field="IntrBkSttlmAmt",
            value=settled_fen,
        )
    if requested_fen is not None and settled_fen > requested_fen:
        raise FileFormatError(
            "settled amount exceeds the requested amount",
            location=f"{where}/OrgnlTxRef/IntrBkSttlmAmt",
            field="IntrBkSttlmAmt",
            value=settled_fen,
        )
    reason_code, reason_text = _reason(r, tx)
    booked = r.date_choice(tx, "FctvIntrBkSttlmDt")
    if booked is None:
        booked = r.date_at(tx, "OrgnlTxRef/IntrBkSttlmDt")
    result = InstructionResult(
        end_to_end_id=end_to_end,
        status=status,
        settled_amount_fen=settled_fen,
        requested_amount_fen=requested_fen,
        reason_code=reason_code,
        reason_text=reason_text,
        booking_date=booked,
    )
    return result, _Answer(code, requested, where)


class StatusReportRenderer:
    """Writes pain.002.001.10 for a batch (the sandbox bank's 回盘)."""

    def __init__(self) -> None:
        self.ns = STATUS_REPORT.namespace(RENDER_VERSION)

    def _q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def render(self, result: ResultFile, batch: Batch) -> bytes:
        try:
            return self._render(result, batch)
        except ValueError as exc:  # text XML cannot carry
            raise RenderError(f"result for batch {batch.message_id!r}: {exc}") from None

    def _render(self, result: ResultFile, batch: Batch) -> bytes:
        q = self._q
        sub = etree.SubElement
        layout = (
            CREDIT_TRANSFER_LAYOUT
            if batch.direction is Direction.DISBURSEMENT
            else DIRECT_DEBIT_LAYOUT
        )
        by_id: dict[str, InstructionResult] = {}
        for item in result.results:
            if item.end_to_end_id in by_id:
                raise RenderError(f"result for {item.end_to_end_id!r} given twice")
            by_id[item.end_to_end_id] = item
        known = {i.end_to_end_id for i in batch.instructions}
        unknown = sorted(set(by_id) - known)
        if unknown:
            raise RenderError(f"results for instructions not in the batch: {unknown[:5]}")
        if result.group_status is not None and result.group_status not in STATUS_CODES:
            raise RenderError(f"unknown group status {result.group_status!r}")
        root = etree.Element(q("Document"), nsmap={None: self.ns})  # type: ignore[dict-item]
        body = sub(root, q(STATUS_REPORT.root))
        header = sub(body, q("GrpHdr"))
        sub(header, q("MsgId")).text = result.message_id
        created = result.created_at or batch.created_at
        sub(header, q("CreDtTm")).text = created.isoformat()
        group = sub(body, q("OrgnlGrpInfAndSts"))
        sub(group, q("OrgnlMsgId")).text = result.original_message_id or batch.message_id
        sub(group, q("OrgnlMsgNmId")).text = layout.render_name
        sub(group, q("OrgnlCreDtTm")).text = batch.created_at.isoformat()
        sub(group, q("OrgnlNbOfTxs")).text = str(len(batch.instructions))
        if result.group_status:
            sub(group, q("GrpSts")).text = result.group_status
        if result.group_reason_code or result.group_reason_text:
            self._reason(group, result.group_reason_code, result.group_reason_text)
        whole = {b.block_id: b for b in result.block_statuses}
        blocks = payment_blocks(layout, batch)
        unknown_blocks = sorted(str(b) for b in set(whole) - {b for b, _ in blocks})
        if unknown_blocks:
            raise RenderError(f"statuses for payment blocks not in the batch: {unknown_blocks}")
        for block_id, items in blocks:
            answered = [(i, by_id[i.end_to_end_id]) for i in items if i.end_to_end_id in by_id]
            as_whole = whole.get(block_id)
            if not answered and as_whole is None:
                continue
            if answered and as_whole is not None:
                raise RenderError(f"payment block {block_id!r} answered whole and in detail")
            block = sub(body, q("OrgnlPmtInfAndSts"))
            sub(block, q("OrgnlPmtInfId")).text = block_id
            sub(block, q("OrgnlNbOfTxs")).text = str(len(items))
            if as_whole is not None:
                if as_whole.status not in STATUS_CODES:
                    raise RenderError(f"unknown payment block status {as_whole.status!r}")
                sub(block, q("PmtInfSts")).text = as_whole.status
                if as_whole.reason_code or as_whole.reason_text:
                    self._reason(block, as_whole.reason_code, as_whole.reason_text)
            for instruction, answer in answered:
                self._transaction(block, instruction, answer)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _reason(self, parent: etree._Element, code: str | None, text: str) -> None:
        q = self._q
        sub = etree.SubElement
        info = sub(parent, q("StsRsnInf"))
        if code:
            kind = "Cd" if len(code) <= 4 else "Prtry"
            sub(sub(info, q("Rsn")), q(kind)).text = code
        for line in text_lines(text) if text else []:
            if len(line) > _REASON_LINE:
                raise RenderError(
                    f"reason text line longer than {_REASON_LINE} characters (AddtlInf): {line!r}"
                )
            sub(info, q("AddtlInf")).text = line

    def _transaction(
        self, block: etree._Element, instruction: PaymentInstruction, answer: InstructionResult
    ) -> None:
        q = self._q
        sub = etree.SubElement
        if answer.settled_amount_fen < 0 or (
            answer.settled_amount_fen > (answer.requested_amount_fen or instruction.amount_fen)
        ):
            raise RenderError(
                f"result for {answer.end_to_end_id!r}: settled amount "
                f"{answer.settled_amount_fen} is outside 0..requested"
            )
        tx = sub(block, q("TxInfAndSts"))
        sub(tx, q("OrgnlEndToEndId")).text = answer.end_to_end_id
        sub(tx, q("TxSts")).text = RENDER_CODES[answer.status]
        if answer.reason_code or answer.reason_text:
            self._reason(tx, answer.reason_code, answer.reason_text)
        if answer.booking_date is not None:
            sub(sub(tx, q("FctvIntrBkSttlmDt")), q("Dt")).text = answer.booking_date.isoformat()
        reference = sub(tx, q("OrgnlTxRef"))
        currency = instruction.currency
        settled = sub(reference, q("IntrBkSttlmAmt"), Ccy=currency)
        settled.text = format_amount(answer.settled_amount_fen, currency)
        requested = answer.requested_amount_fen or instruction.amount_fen
        amount = sub(sub(reference, q("Amt")), q("InstdAmt"), Ccy=currency)
        amount.text = format_amount(requested, currency)
