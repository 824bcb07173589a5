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
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext

from lxml import etree

from adapters.errors import ControlTotalError, FileFormatError, RenderError
from adapters.iso20022.accounts import is_iban
from adapters.iso20022.messages import CREDIT_TRANSFER, DIRECT_DEBIT, MessageType, expect_root
from adapters.iso20022.schemas import Schemas
from adapters.iso20022.xmlread import Reader, minor_exponent, parse_document
from adapters.iso20022.xmlwrite import XmlLines, escape_attribute, escape_text
from adapters.records import MAX_AMOUNT_FEN, Batch, Direction, PaymentInstruction

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
    amount: str  # Amt/InstdAmt | InstdAmt (the transaction's amount path)

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


class AmountFormat:
    """Amount text for one file: each currency's exponent looked up once, exact totals."""

    def __init__(self) -> None:
        self._exponents: dict[str, int] = {}

    def exponent(self, currency: str) -> int:
        found = self._exponents.get(currency)
        if found is None:
            try:
                found = minor_exponent(currency)
            except FileFormatError as exc:
                raise RenderError(f"currency {currency!r}: {exc.reason}") from None
            self._exponents[currency] = found
        return found

    def format(self, minor: int, currency: str) -> str:
        exponent = self.exponent(currency)
        if exponent == 0:
            return str(minor)
        whole, part = divmod(minor, 10**exponent)
        return f"{whole}.{part:0{exponent}d}"

    def total(self, items: list[PaymentInstruction] | tuple[PaymentInstruction, ...]) -> str:
        """The control sum: the plain decimal sum of every amount as written."""
        if len({self.exponent(i.currency) for i in items}) == 1:
            return self.format(sum(i.amount_fen for i in items), items[0].currency)
        with localcontext() as exact:
            exact.prec = 80
            total = sum(
                (Decimal(self.format(i.amount_fen, i.currency)) for i in items), start=Decimal(0)
            )
        return f"{total:f}"


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
        if item.amount_fen > MAX_AMOUNT_FEN:
            raise RenderError(
                f"instruction {item.end_to_end_id!r}: amount {item.amount_fen} exceeds the "
                f"largest allowed ({MAX_AMOUNT_FEN} fen)"
            )
    if batch.control_sum_fen > MAX_AMOUNT_FEN:
        raise RenderError(
            f"batch {batch.message_id!r}: control sum {batch.control_sum_fen} exceeds the "
            f"largest allowed ({MAX_AMOUNT_FEN} fen); split the batch"
        )
    earliest = min(item.requested_date for item in batch.instructions)
    if batch.requested_date != earliest:
        raise RenderError(
            f"batch {batch.message_id!r}: requested date {batch.requested_date} must be the "
            f"earliest of its instructions' dates ({earliest})"
        )


class InitiationRenderer:
    """Writes one initiation message and validates it against its schema before it leaves.

    The text is built directly (one pass, no per-element objects) and then parsed once for
    validation, which keeps a 100,000-payment file fast to produce.
    """

    def __init__(self, layout: InitiationLayout, schemas: Schemas) -> None:
        self.layout = layout
        self.schemas = schemas
        self.ns = layout.message.namespace(layout.render_version)
        self._amounts = AmountFormat()

    def render(self, batch: Batch) -> bytes:
        layout = self.layout
        check_renderable(batch, layout.direction)
        self._amounts = AmountFormat()
        out = XmlLines()
        out.open("Document", self.ns)
        out.open(layout.message.root)
        out.open("GrpHdr")
        out.leaf("MsgId", batch.message_id)
        out.leaf("CreDtTm", batch.created_at.isoformat())
        out.leaf("NbOfTxs", str(len(batch.instructions)))
        out.leaf("CtrlSum", self._sum(batch.instructions))
        self._party(out, "InitgPty", batch.initiator_name)
        out.close("GrpHdr")
        for block_id, items in payment_blocks(layout, batch):
            self._block(out, batch, block_id, items)
        out.close(layout.message.root)
        out.close("Document")
        data, tree = out.finish(f"batch {batch.message_id!r}")
        self.schemas.validate(layout.render_name, tree)
        return data

    def _sum(self, items: list[PaymentInstruction] | tuple[PaymentInstruction, ...]) -> str:
        return self._amounts.total(items)

    @staticmethod
    def _party(out: XmlLines, tag: str, name: str) -> None:
        out.text(_party_text(out.indent, tag, name))

    @staticmethod
    def _account(out: XmlLines, tag: str, number: str, name: str = "") -> None:
        out.text(_account_text(out.indent, tag, number, name))

    @staticmethod
    def _agent(out: XmlLines, tag: str, bank_code: str) -> None:
        out.text(_agent_text(out.indent, tag, bank_code))

    def _block(
        self, out: XmlLines, batch: Batch, block_id: str, items: list[PaymentInstruction]
    ) -> None:
        layout = self.layout
        first = items[0]
        own_account, own_name = own_side_of(layout, first)
        out.open("PmtInf")
        out.leaf("PmtInfId", block_id)
        out.leaf("PmtMtd", layout.payment_method)
        out.leaf("NbOfTxs", str(len(items)))
        out.leaf("CtrlSum", self._sum(items))
        if layout.date_is_choice:
            out.open(layout.date)
            out.leaf("Dt", first.requested_date.isoformat())
            out.close(layout.date)
        else:
            out.leaf(layout.date, first.requested_date.isoformat())
        out.open(layout.own)
        if batch.special_account_name:
            out.leaf("Nm", batch.special_account_name)
        out.open("Id")
        out.open("OrgId")
        out.open("Othr")
        out.leaf("Id", batch.special_account)
        out.open("SchmeNm")
        out.leaf("Prtry", SPECIAL_ACCOUNT_SCHEME)
        out.close("SchmeNm")
        out.close("Othr")
        out.close("OrgId")
        out.close("Id")
        out.close(layout.own)
        self._account(out, f"{layout.own}Acct", own_account, own_name)
        self._agent(out, f"{layout.own}Agt", batch.bank_code)
        if layout.direction is Direction.COLLECTION and batch.creditor_scheme_id:
            out.open("CdtrSchmeId")
            out.open("Id")
            out.open("PrvtId")
            out.open("Othr")
            out.leaf("Id", batch.creditor_scheme_id)
            out.open("SchmeNm")
            out.leaf("Prtry", "SEPA")
            out.close("SchmeNm")
            out.close("Othr")
            out.close("PrvtId")
            out.close("Id")
            out.close("CdtrSchmeId")
        for item in items:
            self._transaction(out, item)
        out.close("PmtInf")

    def _transaction(self, out: XmlLines, item: PaymentInstruction) -> None:
        """One transaction, written as one piece of text (a hundred thousand of them make a
        large batch, so no call per element)."""
        layout = self.layout
        i0 = out.indent
        i1 = i0 + "  "
        i2 = i1 + "  "
        i3 = i2 + "  "
        tx = layout.transaction
        amount = escape_text(self._amounts.format(item.amount_fen, item.currency))
        currency = escape_attribute(item.currency)
        parts = [
            f"{i0}<{tx}>\n{i1}<PmtId>\n"
            f"{i2}<EndToEndId>{escape_text(item.end_to_end_id)}</EndToEndId>\n{i1}</PmtId>\n"
        ]
        if layout.direction is Direction.DISBURSEMENT:
            parts.append(
                f'{i1}<Amt>\n{i2}<InstdAmt Ccy="{currency}">{amount}</InstdAmt>\n{i1}</Amt>\n'
            )
            counter_account, counter_name = item.creditor_account, item.creditor_name
        else:
            parts.append(f'{i1}<InstdAmt Ccy="{currency}">{amount}</InstdAmt>\n')
            if item.mandate_id or item.mandate_signed_on:
                parts.append(f"{i1}<DrctDbtTx>\n{i2}<MndtRltdInf>\n")
                if item.mandate_id:
                    parts.append(f"{i3}<MndtId>{escape_text(item.mandate_id)}</MndtId>\n")
                if item.mandate_signed_on:
                    signed = item.mandate_signed_on.isoformat()
                    parts.append(f"{i3}<DtOfSgntr>{signed}</DtOfSgntr>\n")
                parts.append(f"{i2}</MndtRltdInf>\n{i1}</DrctDbtTx>\n")
            parts.append(_agent_text(i1, "DbtrAgt", ""))
            counter_account, counter_name = item.debtor_account, item.debtor_name
        parts.append(_party_text(i1, layout.counter, counter_name))
        parts.append(_account_text(i1, f"{layout.counter}Acct", counter_account))
        if item.purpose:
            kind = "Cd" if _PURPOSE_CODE.match(item.purpose) else "Prtry"
            purpose = escape_text(item.purpose)
            parts.append(f"{i1}<Purp>\n{i2}<{kind}>{purpose}</{kind}>\n{i1}</Purp>\n")
        if item.remittance:
            parts.append(f"{i1}<RmtInf>\n")
            parts.extend(
                f"{i2}<Ustrd>{escape_text(line)}</Ustrd>\n" for line in text_lines(item.remittance)
            )
            parts.append(f"{i1}</RmtInf>\n")
        parts.append(f"{i0}</{tx}>\n")
        out.text("".join(parts))


def _party_text(indent: str, tag: str, name: str) -> str:
    """A party with its name (an empty element when there is none)."""
    if not name:
        return f"{indent}<{tag}/>\n"
    return f"{indent}<{tag}>\n{indent}  <Nm>{escape_text(name)}</Nm>\n{indent}</{tag}>\n"


def _account_text(indent: str, tag: str, number: str, name: str = "") -> str:
    """An account: ``Id/IBAN`` for a valid IBAN, else ``Id/Othr/Id``; then its name."""
    i1 = indent + "  "
    i2 = i1 + "  "
    if is_iban(number):
        identity = f"{i2}<IBAN>{escape_text(number)}</IBAN>\n"
    else:
        identity = f"{i2}<Othr>\n{i2}  <Id>{escape_text(number)}</Id>\n{i2}</Othr>\n"
    named = f"{i1}<Nm>{escape_text(name)}</Nm>\n" if name else ""
    return f"{indent}<{tag}>\n{i1}<Id>\n{identity}{i1}</Id>\n{named}{indent}</{tag}>\n"


def _agent_text(indent: str, tag: str, bank_code: str) -> str:
    """The bank: ``BICFI`` when the code is a BIC, else ``Othr/Id`` (``NOTPROVIDED``: none)."""
    i1 = indent + "  "
    i2 = i1 + "  "
    if _BIC.match(bank_code):
        identity = f"{i2}<BICFI>{escape_text(bank_code)}</BICFI>\n"
    else:
        code = escape_text(bank_code or NOT_PROVIDED)
        identity = f"{i2}<Othr>\n{i2}  <Id>{code}</Id>\n{i2}</Othr>\n"
    return f"{indent}<{tag}>\n{i1}<FinInstnId>\n{identity}{i1}</FinInstnId>\n{indent}</{tag}>\n"


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
        total = sum(item.amount_fen for item in instructions)
        if total > MAX_AMOUNT_FEN:
            raise FileFormatError(
                f"the instructions add up to more than the largest allowed ({MAX_AMOUNT_FEN} fen)",
                location=f"{body_path}/GrpHdr/CtrlSum",
                field="CtrlSum",
                value=r.text(header, "CtrlSum") or str(total),
            )
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
