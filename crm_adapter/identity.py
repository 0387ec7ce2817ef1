"""Verifying who a customer is, and remembering the channel they proved it on."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm_adapter.domain import Customer, InvalidInput, VerificationFailed
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


def verify_and_remember(crm: CrmService, email: str, proof: Proof, channel: str, sender_id: str) -> Customer:
    """Check the proof; on success link this channel account to the customer so they are recognised next time.

    Raises VerificationFailed when the proof does not match (and links nothing).
    """
    if proof.kind == "order":
        customer = crm.verify_with_order(email, proof.value)
    elif proof.kind == "code":
        customer = crm.verify_one_time_code(email, proof.value)
    else:
        raise VerificationFailed()
    if channel != UNKNOWN_CHANNEL and sender_id:
        try:
            crm.link_identity(customer.customer_id, channel, sender_id)
        except InvalidInput:
            pass  # a sender id no store can hold: verified for this conversation only
    return customer
