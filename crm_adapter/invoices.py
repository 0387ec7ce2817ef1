"""VAT invoices for a customer's orders: a PDF made here, emailed to the address on file (never shown in the chat).

Why fpdf2 (PyPI `fpdf2`): pure Python with no system libraries, small, well kept, and it draws tables and text
directly into a PDF, which is all an invoice needs. Prices in the shop include UK VAT at 20 %, so each line shows
the net price, the VAT and the gross amount, and the totals add up to what the customer paid.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_adapter.domain import Customer, NotAllowed, Order, OrderStatus
from crm_adapter.notify import mask_email
from crm_adapter.ports import CrmService

VAT_RATE_PERCENT = 20


@dataclass(frozen=True)
class Shop:
    """The seller's details every invoice carries."""

    name: str = "Juniper Home Ltd"
    address: tuple[str, ...] = ("Unit 4, Mill Lane", "Leeds LS11 5QF", "United Kingdom")
    vat_number: str = "GB 274 1836 59"
    company_number: str = "Registered in England and Wales, no. 10482736"
    email: str = "help@juniper-home.example"


SHOP = Shop()


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: int
    gross_cents: int  # what the customer paid for the line, VAT included

    @property
    def vat_cents(self) -> int:
        return vat_of(self.gross_cents)

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.vat_cents


def vat_of(gross_cents: int, rate_percent: int = VAT_RATE_PERCENT) -> int:
    """The VAT inside a VAT-inclusive amount, rounded half up to the penny."""
    return (gross_cents * rate_percent * 2 + (100 + rate_percent)) // ((100 + rate_percent) * 2)


def invoice_number(order: Order) -> str:
    return f"INV-{order.order_number}"


def invoice_lines(order: Order) -> list[InvoiceLine]:
    return [InvoiceLine(line.name, line.quantity, line.quantity * line.unit_price_cents) for line in order.lines]


def money(cents: int, currency: str) -> str:
    symbol = {"GBP": "\u00a3"}.get(currency, currency + " ")  # the PDF's core font has no euro sign
    return f"{'-' if cents < 0 else ''}{symbol}{abs(cents) / 100:,.2f}"


def _latin1(text: str) -> str:
    """What the PDF's core font can draw: accents kept where Latin-1 has them, anything else by its base letter."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            name = unicodedata.name(char, "")  # "LATIN CAPITAL LETTER L WITH STROKE" has no decomposition
            letter = name.split(" LETTER ", 1)[1][:1] if " LETTER " in name and name.startswith("LATIN") else ""
            out.append(base or (letter.lower() if " SMALL " in name else letter) or "?")
    return "".join(out)


def render_invoice(order: Order, customer: Customer, issued: datetime, shop: Shop = SHOP) -> bytes:
    """The invoice for `order` as PDF bytes."""
    from fpdf import FPDF

    lines = invoice_lines(order)
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice_number(order)}")
    pdf.set_author(shop.name)
    pdf.set_creator(shop.name)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(shop.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for text in (*shop.address, f"VAT number {shop.vat_number}", shop.company_number, shop.email):
        pdf.cell(0, 4.5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, "VAT invoice", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    facts = (
        ("Invoice number", invoice_number(order)),
        ("Invoice date", f"{issued:%d %B %Y}"),
        ("Order", order.order_number),
        ("Order date (tax point)", f"{order.placed_at:%d %B %Y}"),
    )
    for label, value in facts:
        pdf.cell(50, 5.5, label)
        pdf.cell(0, 5.5, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 5.5, "Billed to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    billed = (f"{customer.first_name} {customer.last_name}", *(customer.address or "").split(", "), customer.email)
    for text in billed:
        if text:
            pdf.cell(0, 5, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    with pdf.table(
        col_widths=(70, 14, 28, 26, 28),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=6,
    ) as table:
        table.row(("Item", "Qty", "Net", f"VAT {VAT_RATE_PERCENT}%", "Total"))
        for line in lines:
            table.row(
                (
                    _latin1(line.description),
                    str(line.quantity),
                    money(line.net_cents, order.currency),
                    money(line.vat_cents, order.currency),
                    money(line.gross_cents, order.currency),
                )
            )
    gross = sum(line.gross_cents for line in lines)
    vat = sum(line.vat_cents for line in lines)
    pdf.ln(4)
    for label, cents, style in (("Net", gross - vat, ""), (f"VAT at {VAT_RATE_PERCENT}%", vat, ""),
                                ("Total paid", gross, "B")):  # fmt: skip
        pdf.set_font("Helvetica", style, 10)
        pdf.cell(138, 6, label, align="R")
        pdf.cell(28, 6, money(cents, order.currency), align="R", new_x="LMARGIN", new_y="NEXT")
    if order.status is OrderStatus.RETURNED:
        pdf.ln(4)
        pdf.set_font("Helvetica", "I", 9)
        pdf.cell(0, 5, "This order has since been returned; the refund is shown on a separate credit note.")
    return bytes(pdf.output())


@dataclass(frozen=True)
class InvoiceSent:
    order_number: str
    email: str  # masked: a***@example.com


Deliver = Callable[[str, str, str, bytes], int]  # (email, first name, order number, pdf) -> size; OSError on failure


class Invoices:
    """Emails the VAT invoice of one of the customer's orders to the address on file."""

    def __init__(self, crm: CrmService, deliver: Deliver, clock: Callable[[], datetime]) -> None:
        self._crm = crm
        self._deliver = deliver
        self._now = clock

    def send(self, customer_id: str, order_number: str) -> InvoiceSent:
        """NotFound for an order that is not the customer's; NotAllowed ("cancelled") for a cancelled order, which
        was never charged; OSError when the email cannot be sent. CrmUnavailable is raised."""
        order = self._crm.get_order(customer_id, order_number)
        if order.status is OrderStatus.CANCELLED:
            raise NotAllowed("cancelled", f"Order {order.order_number} was cancelled, so nothing was charged.")
        customer = self._crm.get_customer(customer_id)
        pdf = render_invoice(order, customer, self._now())
        self._deliver(customer.email, customer.first_name, order.order_number, pdf)
        return InvoiceSent(order.order_number, mask_email(customer.email))
