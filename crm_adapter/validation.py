"""Validation and normalisation of contact data, shared by every backend and by form validators."""

from __future__ import annotations

import re

from crm_adapter.domain import InvalidInput

_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_ORDER = re.compile(r"^JH[\s\-]?(\d{6})$", re.IGNORECASE)
_CODE = re.compile(r"^\d{6}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Free text as it may be stored: control characters (NUL included) removed, ends trimmed."""
    return _CONTROL.sub("", value or "").strip()


def normalize_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email) or ".." in email:
        raise InvalidInput("email", "That doesn't look like an email address.")
    return email


def normalize_phone(value: str) -> str:
    """Return the number as '+' and digits (UK numbers starting with 0 become +44)."""
    raw = (value or "").strip()
    if not re.fullmatch(r"\+?[\d\s\-().]+", raw):
        raise InvalidInput("phone", "A phone number may only contain digits, spaces, dashes and a leading +.")
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = "44" + digits[1:]
    if not 9 <= len(digits) <= 15:
        raise InvalidInput("phone", "A phone number needs between 9 and 15 digits.")
    return "+" + digits


def normalize_address(value: str) -> str:
    address = " ".join(clean_text(value).split())
    if len(address) < 10 or len(address) > 300:
        raise InvalidInput("address", "Please give the full address: street, town and postcode.")
    if not re.search(r"\d", address) or not re.search(r"[A-Za-z]{2,}", address):
        raise InvalidInput("address", "Please include the house number, street, town and postcode.")
    return address


def normalize_order_number(value: str) -> str:
    match = _ORDER.match((value or "").strip())
    if not match:
        raise InvalidInput("order_number", "Order numbers look like JH123456.")
    return "JH" + match.group(1)


def is_one_time_code(value: str) -> bool:
    return bool(_CODE.match((value or "").strip()))
