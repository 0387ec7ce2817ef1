"""Who a customer is: proofs, the per-conversation lockout after wrong proofs, and linking a messaging
account to the customer record.

Verification: an email plus a proof (an order number or a one-time code). Every wrong proof counts per
conversation here (`MAX_SESSION_FAILURES`, after which the conversation is locked until it ends). Across
conversations the CRM slows guessing without locking anyone out: wrong order numbers are counted per claimed
address, and past its limit the CRM takes no order number for that address (`CodeRequired`); the bot then emails
a one-time code to the address instead, which the owner receives and a guesser does not. Each code takes a few
guesses, and a few codes an hour are sent (crm_adapter/rules.py, crm_adapter/sql/verification.py). The customer
hears the same words whether or not the address is on file.

Account linking: after a customer is verified on a channel whose sender id the platform itself vouches for
(a Telegram chat, a Slack user, a WhatsApp or SMS number, a Messenger user), the bot offers to remember the
account. Nothing is linked unless both hold:

- the customer proved they own the record with a one-time code sent to the email on file (an order number
  verifies a conversation, but an order number travels on receipts and is not enough to remember an
  account for good: a second step emails a code);
- the customer said yes to remembering this account.

Web chat and REST are never linked: their sender ids are whatever the caller says. On web chat the host
website's signed token identifies a visitor instead (bot/channels.py); a REST integration identifies its
users itself. Nothing is ever merged on a name or an unchecked claim.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from crm_adapter.domain import (
    CodeRequired,
    CrmUnavailable,
    Customer,
    CustomerContext,
    InvalidInput,
    NotFound,
    VerificationFailed,
)
from crm_adapter.notify import mask_email
from crm_adapter.ports import CrmService

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = "unknown"
MAX_SESSION_FAILURES = 3  # wrong proofs per conversation before verification locks
# Channels whose sender ids the platform authenticates, and how the bot names them to the customer.
LINKABLE_CHANNELS = {
    "telegram": "Telegram account",
    "slack": "Slack account",
    "twilio": "phone number",
    "facebook": "Messenger account",
}


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
    with a one-time code as the proof (AccountLinking).
    """
    if proof.kind == "order":
        return crm.verify_with_order(email, proof.value)
    if proof.kind == "code":
        return crm.verify_one_time_code(email, proof.value)
    raise VerificationFailed()


# ---- verification, with the per-conversation lockout ---------------------------------------------


def session_locked(failures: float | None, limit: int = MAX_SESSION_FAILURES) -> bool:
    """Whether this many wrong proofs in one conversation lock it (until the conversation ends)."""
    return (failures or 0) >= limit


@dataclass(frozen=True)
class ProofOutcome:
    """What a proof came to. `failures` is the conversation's count of wrong proofs after this one.
    "code_required": no order number is taken for this address now; a code was queued for it (unless
    `code_sent` said one already was in this conversation)."""

    result: Literal["verified", "unreadable", "failed", "locked", "code_required"]
    failures: int = 0
    by: str | None = None  # the kind of proof that verified: "order" | "code"
    context: CustomerContext | None = None  # the verified customer (verification by email and proof)


class Verification:
    """The one place that counts wrong proofs per conversation; the CRM counts wrong order numbers per address."""

    def __init__(self, crm: CrmService, max_failures: int = MAX_SESSION_FAILURES) -> None:
        self._crm = crm
        self.max_failures = max_failures

    def locked(self, failures: float | None) -> bool:
        return session_locked(failures, self.max_failures)

    def send_code(self, email: str) -> None:
        """Email a one-time code (the CRM says nothing different for an address it does not have)."""
        self._crm.send_one_time_code(email)

    def prove(self, email: str, encoded_proof: str, failures: float | None, code_sent: bool = False) -> ProofOutcome:
        """Verify `email` with a proof as the form stores it ("order:JH123456", "code:123456"). When the CRM takes
        no order number for the address now, a code is queued for it instead (once per conversation: `code_sent`);
        that is not a wrong proof, as nothing was checked."""
        proof = Proof.decode(encoded_proof)
        if proof is None:
            return ProofOutcome("unreadable", int(failures or 0))
        try:
            customer = verify(self._crm, email, proof)
        except CodeRequired:
            if not code_sent:
                self._crm.send_one_time_code(email)
            return ProofOutcome("code_required", int(failures or 0))
        except VerificationFailed:
            return self._failed(failures)
        return ProofOutcome("verified", 0, proof.kind, self._crm.customer_context(customer.customer_id))

    def prove_code(self, customer_id: str, code: str, failures: float | None) -> ProofOutcome:
        """Check a one-time code emailed to `customer_id`'s address on file: someone else's code fails."""
        customer = self._crm.get_customer(customer_id)
        try:
            proved = self._crm.verify_one_time_code(customer.email, code)
            if proved.customer_id != customer_id:
                raise VerificationFailed()
        except VerificationFailed:
            return self._failed(failures)
        return ProofOutcome("verified", 0, "code")

    def _failed(self, failures: float | None) -> ProofOutcome:
        count = int(failures or 0) + 1
        return ProofOutcome("locked" if self.locked(count) else "failed", count)


# ---- linking a messaging account ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelAccount:
    """Who is talking, as the channel says: the channel's name and its sender id."""

    channel: str
    sender_id: str

    @property
    def label(self) -> str | None:
        """How the bot names the account to the customer; None for a channel never linked."""
        return LINKABLE_CHANNELS.get(self.channel)


@dataclass(frozen=True)
class LinkOffer:
    """Ask whether to remember this account, or (`already_linked`) say it is remembered already."""

    label: str
    already_linked: bool = False


@dataclass(frozen=True)
class LinkStep:
    """What the customer's answer to a link question came to."""

    result: Literal[
        "not_verified", "declined", "ask_again", "code_sent", "ask_code_again", "code_wrong", "code_locked",
        "linked", "failed",
    ]  # fmt: skip
    label: str | None = None
    masked_email: str | None = None  # where the code went (code_sent)
    failures: int | None = None  # the conversation's wrong proofs, when this answer changed them


class AccountLinking:
    def __init__(self, crm: CrmService, verification: Verification | None = None) -> None:
        self._crm = crm
        self._verification = verification or Verification(crm)

    def offer(
        self, customer_id: str, account: ChannelAccount, *, offered: bool, verified_by: str | None, asked_for: bool
    ) -> LinkOffer | None:
        """Whether to ask to remember this account: once per conversation (`offered`), or whenever the customer
        asks for it (`asked_for`). Nothing is asked on web chat, nor of a customer recognised from this account
        (not `verified_by` a proof here), nor when the account is linked to them already."""
        label = account.label
        if label is None or (offered and not asked_for):
            return None
        if not asked_for and not verified_by:
            return None
        try:
            known = self._crm.recognize(account.channel, account.sender_id)
        except CrmUnavailable as exc:
            log.info("no link offer: %s", exc)
            return None
        if known is not None and known.customer_id == customer_id:
            return LinkOffer(label, already_linked=True) if asked_for else None
        return LinkOffer(label)

    def answer(
        self,
        question: str,
        intent: str | None,
        customer_id: str | None,
        account: ChannelAccount,
        *,
        verified_by: str | None,
        code: str | None,
        text: str,
        failures: float | None,
    ) -> LinkStep:
        """The answer to `question` (link_channel: remember this account?; link_code: the emailed code).
        `customer_id` is the verified customer or None; `code` the code the message carried, if any."""
        label = account.label
        if not customer_id or label is None:
            return LinkStep("not_verified")
        if intent in ("deny", "stop"):
            return LinkStep("declined", label)
        if question == "link_channel":
            if intent != "affirm":
                return LinkStep("ask_again", label)
            if verified_by == "code":  # the code was just proved in this conversation
                return self._link(customer_id, account)
            customer = self._crm.get_customer(customer_id)
            self._crm.send_one_time_code(customer.email)
            return LinkStep("code_sent", label, masked_email=mask_email(customer.email))
        proof = Proof("code", code) if code else Proof.from_text(text)
        if proof is None or proof.kind != "code":
            return LinkStep("ask_code_again", label)
        proved = self._verification.prove_code(customer_id, proof.value, failures)
        if proved.result == "locked":
            return LinkStep("code_locked", label, failures=proved.failures)
        if proved.result != "verified":
            return LinkStep("code_wrong", label, failures=proved.failures)
        return self._link(customer_id, account)

    def _link(self, customer_id: str, account: ChannelAccount) -> LinkStep:
        try:
            self._crm.link_identity(customer_id, account.channel, account.sender_id)
        except (InvalidInput, NotFound) as exc:
            log.warning("could not link the channel account: %s", exc)
            return LinkStep("failed", account.label)
        return LinkStep("linked", account.label, failures=0)
