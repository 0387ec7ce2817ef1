from __future__ import annotations

import pytest

from crm_adapter.domain import InvalidInput
from crm_adapter.identity import Proof
from crm_adapter.validation import normalize_address, normalize_email, normalize_order_number, normalize_phone

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  Anna.Berg@Example.com ", "anna.berg@example.com"), ("a+tag@example.co.uk", "a+tag@example.co.uk")],
)
def test_emails_are_normalised(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "anna",
        "anna@",
        "@example.com",
        "anna@example",
        "a..b@example.com",
        "a@b.c",
        "x" * 250 + "@example.com",
        "anna@exa mple.com",
    ],
)
def test_bad_emails_are_refused(raw):
    with pytest.raises(InvalidInput) as err:
        normalize_email(raw)
    assert err.value.field == "email"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 (0)7700-900-123".replace("(0)", ""), "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("+1 555 010 4477", "+15550104477"),
    ],
)
def test_phones_are_normalised(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12 34", "call me maybe", "+44 7700 900123 ext. 4", "1" * 20])
def test_bad_phones_are_refused(raw):
    with pytest.raises(InvalidInput):
        normalize_phone(raw)


def test_addresses_need_a_number_and_words():
    assert normalize_address(" 12  Elm Street,\n Leeds LS1 4AB ") == "12 Elm Street, Leeds LS1 4AB"
    for bad in ["Leeds", "12345678901", "x" * 400]:
        with pytest.raises(InvalidInput):
            normalize_address(bad)


@pytest.mark.parametrize("raw", ["JH123456", "jh-123456", "JH 123456", " jh123456 "])
def test_order_numbers(raw):
    assert normalize_order_number(raw) == "JH123456"


@pytest.mark.parametrize("raw", ["123456", "JH12345", "JH1234567", "AB123456"])
def test_bad_order_numbers(raw):
    with pytest.raises(InvalidInput):
        normalize_order_number(raw)


@pytest.mark.parametrize(
    ("text", "proof"),
    [
        ("it's JH 123456", Proof("order", "JH 123456")),
        ("code 482913 thanks", Proof("code", "482913")),
        ("my number is 07700900123", None),
        ("no idea", None),
    ],
)
def test_proof_found_in_free_text(text, proof):
    assert Proof.from_text(text) == proof


def test_proof_round_trips():
    assert Proof.decode(Proof("code", "123456").encode()) == Proof("code", "123456")
    assert Proof.decode("unreadable") is None and Proof.decode("order:") is None


def test_order_summary_counts_every_item():
    from datetime import datetime

    from crm_adapter.domain import Order, OrderLine, OrderStatus

    def order(*lines):
        return Order("JH1", "c", OrderStatus.PLACED, datetime(2026, 1, 1), None, None, 0, "GBP", None, None, lines)

    lamp, bulb = OrderLine("L", "Floor lamp", 2, 100), OrderLine("B", "Bulb", 3, 1)
    assert order(lamp).summary == "2 x Floor lamp"
    assert order(lamp, bulb).summary == "2 x Floor lamp and 3 more items"
    assert order(OrderLine("B", "Bulb", 1, 1), lamp).summary == "Bulb and 2 more items"
    assert order().summary == "order JH1"
