"""Payment initiation: pain.001 (credit transfer, 代付) and pain.008 (direct debit, 代扣).

Both are one generic layout configured by an ``InitiationLayout``; the two message types
differ only in element names and which side of the payment the special account is on.

How a ``Batch`` maps onto the message (the same both ways, so files round-trip):

- ``GrpHdr``: ``MsgId`` = message id, ``CreDtTm`` = created at, ``InitgPty/Nm`` = initiator.
- one ``PmtInf`` per run of consecutive instructions sharing requested date and own-side
  account (the association sub-account and its name); the first block's ``PmtInfId`` is the
  message id, later ones add ``-2``, ``-3``...
- own side at ``PmtInf`` level (``Dbtr``/``DbtrAcct`` for credit transfers, ``Cdtr``/
  ``CdtrAcct`` for direct debits): the party is the special-account holder (``Nm`` = special
  account name, ``Id/OrgId/Othr/Id`` = special account, scheme ``SPECIAL_ACCOUNT``); the
  account is the sub-account debited or credited, its ``Nm`` the association's name.
- the bank (``DbtrAgt``/``CdtrAgt``): ``BICFI`` when the bank code is a BIC, else
  ``Othr/Id`` (``NOTPROVIDED`` when there is none).
- member side per transaction: party ``Nm`` and account ``Id`` (``IBAN`` only when the value
  is a valid IBAN, ``Othr/Id`` for Chinese card and account numbers).
- remittance text as one ``Ustrd`` per line (at most 140 characters each); purpose as
  ``Purp/Cd`` when it is a four-letter code, else ``Purp/Prtry``; mandate as
  ``DrctDbtTx/MndtRltdInf``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext

from lxml import etree

from adapters.errors import ControlTotalError, FileFormatError, RenderError
from adapters.iso20022.accounts import is_iban
from adapters.iso20022.messages import CREDIT_TRANSFER, DIRECT_DEBIT, MessageType, expect_root
from adapters.iso20022.schemas import Schemas
from adapters.iso20022.xmlread import Reader, minor_exponent, parse_document
from adapters.records import Batch, Direction, PaymentInstruction

# 18 significant digits (ActiveOrHistoricCurrencyAndAmount and DecimalNumber totalDigits).
MAX_AMOUNT_MINOR = 10**18 - 1
SPECIAL_ACCOUNT_SCHEME = "SPECIAL_ACCOUNT"
NOT_PROVIDED = "NOTPROVIDED"
_BIC = re.compile(r"^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_PURPOSE_CODE = re.compile(r"^[A-Z]{4}$")
_COUNT = re.compile(r"^[0-9]{1,15}$")


@dataclass(frozen=True, slots=True)
class InitiationLayout:
    """Element names that tell pain.001 and pain.008 apart."""

    message: MessageType
    render_version: int
    direction: Direction
    payment_method: str  # PmtMtd
    transaction: str  # CdtTrfTxInf | DrctDbtTxInf
    date: str  # ReqdExctnDt | ReqdColltnDt
    date_is_choice: bool  # ReqdExctnDt is Dt/DtTm from pain.001.001.08 on
    own: str  # Dbtr | Cdtr: the special account's side, at PmtInf level
    counter: str  # Cdtr | Dbtr: the member's side, per transaction
    amount: str  # Amt/InstdAmt | InstdAmt

    @property
    def render_name(self) -> str:
        return f"{self.message.name}.001.{self.render_version:02d}"


CREDIT_TRANSFER_LAYOUT = InitiationLayout(
    message=CREDIT_TRANSFER,
    render_version=9,
    direction=Direction.DISBURSEMENT,
    payment_method="TRF",
    transaction="CdtTrfTxInf",
    date="ReqdExctnDt",
    date_is_choice=True,
    own="Dbtr",
    counter="Cdtr",
    amount="Amt/InstdAmt",
)

DIRECT_DEBIT_LAYOUT = InitiationLayout(
    message=DIRECT_DEBIT,
    render_version=8,
    direction=Direction.COLLECTION,
    payment_method="DD",
    transaction="DrctDbtTxInf",
    date="ReqdColltnDt",
    date_is_choice=False,
    own="Cdtr",
    counter="Dbtr",
    amount="InstdAmt",
)


def format_amount(minor: int, currency: str) -> str:
    """Minor units as the exact decimal text for ``currency`` (``123456`` CNY -> ``1234.56``)."""
    try:
        exponent = minor_exponent(currency)
    except FileFormatError as exc:
        raise RenderError(f"currency {currency!r}: {exc.reason}") from None
    if exponent == 0:
        return str(minor)
    whole, part = divmod(minor, 10**exponent)
    return f"{whole}.{part:0{exponent}d}"


def text_lines(text: str) -> list[str]:
    """Free text as repeated elements: one per line (the schema limits each line's length)."""
    return text.split("\n")


def own_side_of(layout: InitiationLayout, item: PaymentInstruction) -> tuple[str, str]:
    if layout.direction is Direction.DISBURSEMENT:
        return item.debtor_account, item.debtor_name
    return item.creditor_account, item.creditor_name


def payment_blocks(
    layout: InitiationLayout, batch: Batch
) -> list[tuple[str, list[PaymentInstruction]]]:
    """Split a batch into PmtInf blocks: runs sharing requested date and own-side account."""
    blocks: list[tuple[str, list[PaymentInstruction]]] = []
    key: tuple[date, str, str] | None = None
    for item in batch.instructions:
        account, name = own_side_of(layout, item)
        this = (item.requested_date, account, name)
        if this != key:
            number = len(blocks) + 1
            suffix = "" if number == 1 else f"-{number}"
            blocks.append((batch.message_id[: 35 - len(suffix)] + suffix, []))
            key = this
        blocks[-1][1].append(item)
    return blocks


def check_renderable(batch: Batch, direction: Direction) -> None:
    """The checks no schema can make: empty batch, duplicates, amount range, dates."""
    if batch.direction is not direction:
        raise RenderError(
            f"batch {batch.message_id!r} is a {batch.direction} batch, not {direction}"
        )
    if not batch.instructions:
        raise RenderError(f"batch {batch.message_id!r} is empty: an empty file is never sent")
    seen: set[str] = set()
    for item in batch.instructions:
        if item.end_to_end_id in seen:
            raise RenderError(
                f"duplicate end-to-end id {item.end_to_end_id!r} in batch {batch.message_id!r}"
            )
        seen.add(item.end_to_end_id)
        if item.amount_fen <= 0:
            raise RenderError(
                f"instruction {item.end_to_end_id!r}: amount must be positive, "
                f"got {item.amount_fen}"
            )
        if item.amount_fen > MAX_AMOUNT_MINOR:
            raise RenderError(
                f"instruction {item.end_to_end_id!r}: amount {item.amount_fen} exceeds the "
                f"format's 18 digits"
            )
    earliest = min(item.requested_date for item in batch.instructions)
    if batch.requested_date != earliest:
        raise RenderError(
            f"batch {batch.message_id!r}: requested date {batch.requested_date} must be the "
            f"earliest of its instructions' dates ({earliest})"
        )


class InitiationRenderer:
    """Builds one initiation message with lxml and validates it before it leaves."""

    def __init__(self, layout: InitiationLayout, schemas: Schemas) -> None:
        self.layout = layout
        self.schemas = schemas
        self.ns = layout.message.namespace(layout.render_version)

    def _q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def render(self, batch: Batch) -> bytes:
        layout = self.layout
        check_renderable(batch, layout.direction)
        q = self._q
        sub: Callable[..., etree._Element] = etree.SubElement
        try:
            root = etree.Element(q("Document"), nsmap={None: self.ns})  # type: ignore[dict-item]
            body = sub(root, q(layout.message.root))
            header = sub(body, q("GrpHdr"))
            sub(header, q("MsgId")).text = batch.message_id
            sub(header, q("CreDtTm")).text = batch.created_at.isoformat()
            sub(header, q("NbOfTxs")).text = str(len(batch.instructions))
            sub(header, q("CtrlSum")).text = self._sum(batch.instructions)
            initiator = sub(header, q("InitgPty"))
            if batch.initiator_name:
                sub(initiator, q("Nm")).text = batch.initiator_name
            for block_id, items in payment_blocks(layout, batch):
                self._block(body, batch, block_id, items)
        except ValueError as exc:  # lxml refuses text that XML cannot carry
            raise RenderError(f"batch {batch.message_id!r}: {exc}") from None
        tree = etree.ElementTree(root)
        self.schemas.validate(layout.render_name, tree)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def _sum(self, items: list[PaymentInstruction] | tuple[PaymentInstruction, ...]) -> str:
        with localcontext() as exact:
            exact.prec = 80
            total = sum(
                (Decimal(format_amount(i.amount_fen, i.currency)) for i in items), start=Decimal(0)
            )
        return f"{total:f}"

    def _account(self, parent: etree._Element, tag: str, number: str, name: str = "") -> None:
        q = self._q
        account = etree.SubElement(parent, q(tag))
        ident = etree.SubElement(account, q("Id"))
        if is_iban(number):
            etree.SubElement(ident, q("IBAN")).text = number
        else:
            etree.SubElement(etree.SubElement(ident, q("Othr")), q("Id")).text = number
        if name:
            etree.SubElement(account, q("Nm")).text = name

    def _agent(self, parent: etree._Element, tag: str, bank_code: str) -> None:
        q = self._q
        institution = etree.SubElement(etree.SubElement(parent, q(tag)), q("FinInstnId"))
        if _BIC.match(bank_code):
            etree.SubElement(institution, q("BICFI")).text = bank_code
        else:
            other = etree.SubElement(institution, q("Othr"))
            etree.SubElement(other, q("Id")).text = bank_code or NOT_PROVIDED

    def _block(
        self, body: etree._Element, batch: Batch, block_id: str, items: list[PaymentInstruction]
    ) -> None:
        layout = self.layout
        q = self._q
        sub = etree.SubElement
        first = items[0]
        own_account, own_name = own_side_of(layout, first)
        block = sub(body, q("PmtInf"))
        sub(block, q("PmtInfId")).text = block_id
        sub(block, q("PmtMtd")).text = layout.payment_method
        sub(block, q("NbOfTxs")).text = str(len(items))
        sub(block, q("CtrlSum")).text = self._sum(items)
        when = sub(block, q(layout.date))
        if layout.date_is_choice:
            sub(when, q("Dt")).text = first.requested_date.isoformat()
        else:
            when.text = first.requested_date.isoformat()
        holder = sub(block, q(layout.own))
        if batch.special_account_name:
            sub(holder, q("Nm")).text = batch.special_account_name
        other = sub(sub(sub(holder, q("Id")), q("OrgId")), q("Othr"))
        sub(other, q("Id")).text = batch.special_account
        sub(sub(other, q("SchmeNm")), q("Prtry")).text = SPECIAL_ACCOUNT_SCHEME
        self._account(block, f"{layout.own}Acct", own_account, own_name)
        self._agent(block, f"{layout.own}Agt", batch.bank_code)
        if layout.direction is Direction.COLLECTION and batch.creditor_scheme_id:
            scheme = sub(sub(sub(block, q("CdtrSchmeId")), q("Id")), q("PrvtId"))
            scheme_other = sub(scheme, q("Othr"))
            sub(scheme_other, q("Id")).text = batch.creditor_scheme_id
            sub(sub(scheme_other, q("SchmeNm")), q("Prtry")).text = "SEPA"
        for item in items:
            self._transaction(block, item)

    def _transaction(self, block: etree._Element, item: PaymentInstruction) -> None:
        layout = self.layout
        q = self._q
        sub = etree.SubElement
        tx = sub(block, q(layout.transaction))
        sub(sub(tx, q("PmtId")), q("EndToEndId")).text = item.end_to_end_id
        amount_parent = tx
        amount_tag = layout.amount
        if "/" in amount_tag:
            outer, _, amount_tag = amount_tag.partition("/")
            amount_parent = sub(tx, q(outer))
        amount = sub(amount_parent, q(amount_tag), Ccy=item.currency)
        amount.text = format_amount(item.amount_fen, item.currency)
        if layout.direction is Direction.COLLECTION:
            if item.mandate_id or item.mandate_signed_on:
                mandate = sub(sub(tx, q("DrctDbtTx")), q("MndtRltdInf"))
                if item.mandate_id:
                    sub(mandate, q("MndtId")).text = item.mandate_id
                if item.mandate_signed_on:
                    sub(mandate, q("DtOfSgntr")).text = item.mandate_signed_on.isoformat()
            self._agent(tx, "DbtrAgt", "")
            counter_account, counter_name = item.debtor_account, item.debtor_name
        else:
            counter_account, counter_name = item.creditor_account, item.creditor_name
        party = sub(tx, q(layout.counter))
        if counter_name:
            sub(party, q("Nm")).text = counter_name
        self._account(tx, f"{layout.counter}Acct", counter_account)
        if item.purpose:
            purpose = sub(tx, q("Purp"))
            code = "Cd" if _PURPOSE_CODE.match(item.purpose) else "Prtry"
            sub(purpose, q(code)).text = item.purpose
        if item.remittance:
            remittance = sub(tx, q("RmtInf"))
            for piece in text_lines(item.remittance):
                sub(remittance, q("Ustrd")).text = piece


class InitiationParser:
    """Reads an initiation message as the bank does, checking control totals both ways."""

    def __init__(self, layout: InitiationLayout) -> None:
        self.layout = layout

    def parse(self, data: bytes) -> Batch:
        layout = self.layout
        root = parse_document(data)
        _, _, ns = expect_root(root, layout.message)
        r = Reader(ns, root, "/Document")
        body = r.find(root, layout.message.root)
        if body is None:
            raise FileFormatError(
                f"missing {layout.message.root}", location="/Document", field=layout.message.root
            )
        header = r.find(body, "GrpHdr")
        if header is None:
            raise FileFormatError("missing GrpHdr", location=r.where(body), field="GrpHdr")
        message_id = r.require(header, "MsgId")
        created_at = r.datetime_at(header, "CreDtTm")
        if created_at is None:
            raise FileFormatError(
                "required element is missing",
                location=r.where_path(header, "CreDtTm"),
                field="CreDtTm",
            )
        blocks = r.findall(body, "PmtInf")
        if not blocks:
            raise FileFormatError(
                "file holds no PmtInf block", location=r.where(body), field="PmtInf"
            )
        instructions: list[PaymentInstruction] = []
        amounts: list[Decimal] = []
        special_account = special_name = bank_code = ""
        scheme_id: str | None = None
        seen: dict[str, str] = {}
        body_path = f"/Document/{layout.message.root}"
        for index, block in enumerate(blocks, start=1):
            items, block_amounts, holder = self._block(r, block, f"{body_path}/PmtInf[{index}]")
            if index == 1:
                special_account, special_name, bank_code, scheme_id = holder
            for item, where in items:
                if item.end_to_end_id in seen:
                    raise FileFormatError(
                        f"duplicate end-to-end id (first at {seen[item.end_to_end_id]})",
                        location=where,
                        field="EndToEndId",
                        value=item.end_to_end_id,
                    )
                seen[item.end_to_end_id] = where
                instructions.append(item)
            amounts.extend(block_amounts)
        self._check_totals(r, header, f"{body_path}/GrpHdr", len(instructions), amounts)
        return Batch(
            message_id=message_id,
            direction=layout.direction,
            special_account=special_account,
            special_account_name=special_name,
            created_at=created_at,
            requested_date=min(item.requested_date for item in instructions),
            instructions=tuple(instructions),
            bank_code=bank_code,
            initiator_name=r.raw_text(header, "InitgPty/Nm") or "",
            creditor_scheme_id=scheme_id,
        )

    def _check_totals(
        self, r: Reader, parent: etree._Element, where: str, count: int, amounts: list[Decimal]
    ) -> None:
        declared_count = r.text(parent, "NbOfTxs")
        if declared_count is None:
            if local_name_of(parent) == "GrpHdr":
                raise FileFormatError(
                    "required element is missing", location=f"{where}/NbOfTxs", field="NbOfTxs"
                )
        elif not _COUNT.match(declared_count) or int(declared_count) != count:
            raise ControlTotalError(
                f"declared number of transactions differs from the {count} present",
                location=f"{where}/NbOfTxs",
                field="NbOfTxs",
                value=declared_count,
            )
        declared_sum = r.text(parent, "CtrlSum")
        if declared_sum is not None:
            with localcontext() as exact:
                exact.prec = 80
                actual = sum(amounts, start=Decimal(0))
                try:
                    matches = len(declared_sum) <= 40 and Decimal(declared_sum) == actual
                except InvalidOperation:
                    matches = False
            if not matches:
                raise ControlTotalError(
                    f"declared control sum differs from the sum of the transactions ({actual:f})",
                    location=f"{where}/CtrlSum",
                    field="CtrlSum",
                    value=declared_sum,
                )

    def _block(
        self, r: Reader, block: etree._Element, block_path: str
    ) -> tuple[
        list[tuple[PaymentInstruction, str]], list[Decimal], tuple[str, str, str, str | None]
    ]:
        layout = self.layout
        choice = (r.find(block, f"{layout.date}/{part}") is not None for part in ("Dt", "DtTm"))
        if any(choice):
            requested = r.date_choice(block, layout.date)
        else:
            requested = r.date_at(block, layout.date)
        if requested is None:
            raise FileFormatError(
                "required element is missing",
                location=r.where_path(block, layout.date),
                field=layout.date,
            )
        own_account = account_id(r, block, f"{layout.own}Acct")
        if own_account is None:
            raise FileFormatError(
                "required account is missing",
                location=r.where_path(block, f"{layout.own}Acct"),
                field=f"{layout.own}Acct",
            )
        holder_name = r.raw_text(block, f"{layout.own}/Nm") or ""
        own_name = r.raw_text(block, f"{layout.own}Acct/Nm") or holder_name
        special = own_account
        for other in r.findall(block, f"{layout.own}/Id/OrgId/Othr"):
            if r.text(other, "SchmeNm/Prtry") == SPECIAL_ACCOUNT_SCHEME:
                special = r.require(other, "Id")
        bank_code = agent_code(r, block, f"{layout.own}Agt")
        scheme_id = r.first_text(
            block, "CdtrSchmeId/Id/PrvtId/Othr/Id", "CdtrSchmeId/Id/OrgId/Othr/Id"
        )
        items: list[tuple[PaymentInstruction, str]] = []
        amounts: list[Decimal] = []
        for tx_index, tx in enumerate(r.findall(block, layout.transaction), start=1):
            where = f"{block_path}/{layout.transaction}[{tx_index}]"
            end_to_end = r.require(tx, "PmtId/EndToEndId")
            found = r.amount(tx, layout.amount)
            if found is None:
                raise FileFormatError(
                    "required amount is missing",
                    location=f"{where}/{layout.amount}",
                    field="InstdAmt",
                )
            minor, currency = found
            if minor <= 0:
                raise FileFormatError(
                    "amount must be positive",
                    location=f"{where}/{layout.amount}",
                    field="InstdAmt",
                    value=r.text(tx, layout.amount),
                )
            amounts.append(Decimal(r.text(tx, layout.amount) or "0"))
            counter_account = account_id(r, tx, f"{layout.counter}Acct")
            if counter_account is None:
                raise FileFormatError(
                    "required account is missing",
                    location=f"{where}/{layout.counter}Acct",
                    field=f"{layout.counter}Acct",
                )
            counter_name = r.raw_text(tx, f"{layout.counter}/Nm") or ""
            ustrd = [e.text or "" for e in r.findall(tx, "RmtInf/Ustrd")]
            mandate_signed = r.date_at(tx, "DrctDbtTx/MndtRltdInf/DtOfSgntr")
            if layout.direction is Direction.DISBURSEMENT:
                debtor = (own_account, own_name)
                creditor = (counter_account, counter_name)
            else:
                debtor = (counter_account, counter_name)
                creditor = (own_account, own_name)
            item = PaymentInstruction(
                end_to_end_id=end_to_end,
                amount_fen=minor,
                debtor_account=debtor[0],
                debtor_name=debtor[1],
                creditor_account=creditor[0],
                creditor_name=creditor[1],
                requested_date=requested,
                currency=currency,
                remittance="\n".join(ustrd),
                purpose=r.first_text(tx, "Purp/Cd", "Purp/Prtry") or "",
                mandate_id=r.text(tx, "DrctDbtTx/MndtRltdInf/MndtId"),
                mandate_signed_on=mandate_signed,
            )
            items.append((item, where))
        if not items:
            raise FileFormatError(
                "payment block holds no transaction",
                location=block_path,
                field=layout.transaction,
            )
        self._check_totals(r, block, block_path, len(items), amounts)
        return items, amounts, (special, holder_name, bank_code, scheme_id)


def local_name_of(element: etree._Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def account_id(r: Reader, parent: etree._Element, path: str) -> str | None:
    return r.first_text(parent, f"{path}/Id/IBAN", f"{path}/Id/Othr/Id")


def agent_code(r: Reader, parent: etree._Element, path: str) -> str:
    code = r.first_text(
        parent,
        f"{path}/FinInstnId/BICFI",
        f"{path}/FinInstnId/BIC",
        f"{path}/FinInstnId/ClrSysMmbId/MmbId",
        f"{path}/FinInstnId/Othr/Id",
    )
    return "" if code in (None, NOT_PROVIDED) else code
