"""Verifying who a customer is."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm_adapter.domain import Customer, VerificationFailed
from crm_adapter.ports import CrmService

UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class Proof:
    """What the customer offered as proof next to their email: an order number or a one-time code."""

    kind: str  # "order" | "code"
    value: str

    def encode(self) -> str:
        return f"{self.kind}:{self.value}"

    @classmethod
    def decode(cls, text: str) -> Proof | None:
        kind, _, value = (text or "").partition(":")
        if kind in {"order", "code"} and value:
            return cls(kind, value)
        return None

    @classmethod
    def from_text(cls, text: str) -> Proof | None:
        """Find an order number or a 6-digit code in free text."""
        order = re.search(r"\bJH[\s\-]?\d{6}\b", text or "", re.IGNORECASE)
        if order:
            return cls("order", order.group(0))
        code = re.search(r"(?<![\d\w])\d{6}(?![\d\w])", text or "")
        if code:
            return cls("code", code.group(0))
        return None


def verify(crm: CrmService, email: str, proof: Proof) -> Customer:
    """The customer the email and proof belong to; VerificationFailed when they do not match.

    Verifying links nothing: a channel account is remembered only when the customer says yes to that,
    with a one-time code as the proof (actions/linking.py).
    """
    if proof.kind == "order":
        return crm.verify_with_order(email, proof.value)
    if proof.kind == "code":
        return crm.verify_one_time_code(email, proof.value)
    raise VerificationFailed()
