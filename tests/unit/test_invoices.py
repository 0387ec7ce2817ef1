"""VAT invoices: the PDF's content read back (pypdf), the rules for which orders have one, and the chat action that
emails it to the address on file and shows nothing of it in the chat."""

from __future__ import annotations

import email
import io
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from actions.orders import ActionSendInvoice
from crm_adapter.domain import Customer, NotAllowed, NotFound, Order, OrderLine, OrderStatus
from crm_adapter.invoices import Invoices, invoice_lines, render_invoice, vat_of
from tests.bot import responses, run, slots_set, tracker

pytestmark = pytest.mark.unit
PLACED = datetime(2026, 11, 20, 10, 30, tzinfo=timezone.utc)


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def order(status: str = "delivered", currency: str = "GBP") -> Order:
    lines = (OrderLine("OAK-1", "Oak side table", 1, 8900), OrderLine("LIN-2", "Linen cushion cover", 2, 1850))
    return Order("JH700001", "c1", OrderStatus(status), PLACED, None, None, 12600, currency, None, None, lines)


CUSTOMER = Customer("c1", "Zoë", "Ångström", "zoe@example.com", None, "3 Elm Row, York YO1 7HH", 0)


@pytest.mark.parametrize(("gross", "vat"), [(12000, 2000), (8900, 1483), (3700, 617), (1, 0), (6, 1), (0, 0)])
def test_the_vat_inside_a_price_is_a_sixth_rounded_to_the_penny(gross, vat):
    assert vat_of(gross) == vat


def test_the_invoice_names_seller_buyer_lines_vat_and_totals_that_add_up():
    text = pdf_text(render_invoice(order(), CUSTOMER, datetime(2026, 12, 6, tzinfo=timezone.utc)))

    for expected in ("Juniper Home Ltd", "VAT number GB 274 1836 59", "VAT invoice", "INV-JH700001",
                     "6 December 2026", "20 November 2026", "Zoë Ångström", "3 Elm Row", "York YO1 7HH",
                     "zoe@example.com", "Oak side table", "Linen cushion cover"):  # fmt: skip
        assert expected in text, expected
    lines = invoice_lines(order())
    assert [line.gross_cents for line in lines] == [8900, 3700]
    assert "£74.17" in text and "£14.83" in text and "£89.00" in text  # the table: net, VAT, total
    assert "£105.00" in text and "£21.00" in text and "£126.00" in text  # net, VAT and total paid add up
    assert sum(line.net_cents + line.vat_cents for line in lines) == 12600


def test_characters_the_pdf_font_lacks_fall_back_to_their_letter_and_euros_are_spelled():
    lukasz = Customer("c1", "Łukasz", "Nowak", "l@example.com", None, None, 0)
    text = pdf_text(render_invoice(order(currency="EUR"), lukasz, datetime(2026, 12, 6, tzinfo=timezone.utc)))
    assert "Lukasz Nowak" in text and "EUR 126.00" in text


class Crm:
    def __init__(self, *orders: Order) -> None:
        self.orders = {o.order_number: o for o in orders}

    def get_order(self, customer_id: str, order_number: str) -> Order:
        found = self.orders.get(order_number)
        if found is None or found.customer_id != customer_id:
            raise NotFound("order", order_number)
        return found

    def get_customer(self, customer_id: str) -> Customer:
        return CUSTOMER


def test_an_invoice_goes_to_the_address_on_file_and_only_for_the_customers_own_charged_orders():
    sent: list[tuple[str, str, str, bytes]] = []

    def deliver(to: str, first_name: str, number: str, pdf: bytes) -> int:
        sent.append((to, first_name, number, pdf))
        return len(pdf)

    cancelled = Order("JH700002", "c1", OrderStatus.CANCELLED, PLACED, None, None, 100, "GBP", None, None, ())
    invoices = Invoices(Crm(order(), cancelled), deliver, lambda: PLACED)  # type: ignore[arg-type]

    result = invoices.send("c1", "JH700001")
    assert (result.order_number, result.email) == ("JH700001", "z***@example.com")
    [(to, first_name, number, pdf)] = sent
    assert (to, first_name, number) == ("zoe@example.com", "Zoë", "JH700001") and pdf.startswith(b"%PDF")

    with pytest.raises(NotAllowed):
        invoices.send("c1", "JH700002")  # cancelled before anything was charged
    with pytest.raises(NotFound):
        invoices.send("someone-else", "JH700001")
    assert len(sent) == 1


def test_the_chat_says_where_the_invoice_went_and_the_pdf_is_in_the_email_not_the_chat(crm, tmp_path):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH700010", status="delivered", items=(("Brass floor lamp", 1, 14900),))
    slots = {"verified": True, "customer_id": anna, "consent_asked": True, "order_number": "JH700010"}

    events, messages = run(ActionSendInvoice(), tracker(slots=slots))

    assert responses(messages) == ["utter_invoice_sent"]
    assert messages[0]["email"] == "a***@example.com" and messages[0]["order_number"] == "JH700010"
    assert all(m.get("attachment") is None and "%PDF" not in str(m) for m in messages)
    assert slots_set(events)["order_number"] is None
    [mail] = list((tmp_path / "outbox").glob("*.invoice"))
    message = email.message_from_bytes(mail.read_bytes())
    assert message["To"] == "anna@example.com" and "JH700010" in message["Subject"]
    [attachment] = [part for part in message.walk() if part.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == "invoice-JH700010.pdf"
    assert "Brass floor lamp" in pdf_text(attachment.get_payload(decode=True))


def test_an_invoice_for_a_cancelled_or_someone_elses_order_is_refused_in_words(crm, tmp_path):
    anna = crm.arrange.add_customer(first_name="Anna", email="anna@example.com")
    crm.arrange.add_order(anna, "JH700011", status="cancelled")
    ben = crm.arrange.add_customer(first_name="Ben")
    crm.arrange.add_order(ben, "JH700012")
    base = {"verified": True, "customer_id": anna, "consent_asked": True}

    _, messages = run(ActionSendInvoice(), tracker(slots={**base, "order_number": "JH700011"}))
    assert responses(messages) == ["utter_invoice_order_cancelled"]
    _, messages = run(ActionSendInvoice(), tracker(slots={**base, "order_number": "JH700012"}))
    assert responses(messages) == ["utter_order_number_unknown"]
    assert not list((tmp_path / "outbox").glob("*.invoice"))
