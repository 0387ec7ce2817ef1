"""The CRM's business rules as pure functions and constants, whatever the store behind `CrmService`.

The SQL service (crm_adapter/sql/service.py) applies them to its rows; nothing here touches a store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_adapter.domain import (
    CANCELLABLE_STATUSES,
    ORDER_CHANGE_KINDS,
    ContactField,
    InvalidInput,
    LoyaltyBalance,
    NotAllowed,
    OrderChange,
    OrderLine,
    OrderStatus,
    TicketKind,
)
from crm_adapter.validation import clean_text, normalize_address, normalize_email, normalize_phone

RETURN_WINDOW = timedelta(days=30)
CODE_TTL = timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
# Guessing across conversations: the bot stops a conversation after 3 wrong proofs, but anyone can start
# another. Wrong order numbers are counted per claimed address (a keyed hash of it, the same whether or not the
# address is on file): past MAX_ORDER_FAILURES within the window no order number is taken for that address, and
# only a one-time code emailed to it proves who the customer is (the owner still gets in, a guesser does not).
# Code requests are counted per address too: at most CODES_PER_WINDOW are queued for it per window, and each
# code takes CODE_MAX_ATTEMPTS guesses. Nothing here refuses a right code.
CODES_PER_WINDOW = 5
EMAIL_CHANGES_PER_WINDOW = 3  # codes emailed to new addresses (and notices to taken ones) per customer per window
MAX_ORDER_FAILURES = 10
GUESSING_WINDOW = timedelta(hours=1)
RECENT_DELIVERY = timedelta(days=14)
LOYALTY_TIERS = (("Bronze", 0), ("Silver", 500), ("Gold", 2000))
POINT_VALUE_CENTS = 1  # 100 points = £1
MAX_ORDERS_LISTED = 50
TICKET_SUBJECT_LENGTH = 200
TICKET_DESCRIPTION_LENGTH = 5000
RETURN_REASON_LENGTH = 2000
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def utcnow() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


def new_reference(prefix: str) -> str:
    """A ticket reference or RMA number such as TK-7QX2MB."""
    return prefix + "-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def new_one_time_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# ---- verification ---------------------------------------------------------


def guessing_window_start(now: datetime) -> datetime:
    """Code requests and wrong order numbers created after this count towards the per-address limits."""
    return now - GUESSING_WINDOW


def address_key(secret: bytes, address: str) -> str:
    """The keyed hash an address is counted under (wrong order numbers, code requests): the tables hold no
    address, and the key is the same whether or not the address is on file. `address` is normalized."""
    return hmac.new(secret, b"address:" + address.encode(), hashlib.sha256).hexdigest()


def order_proofs_refused(recent_failures: int) -> bool:
    """Whether this many wrong order numbers for an address within the window stop order numbers for it."""
    return recent_failures >= MAX_ORDER_FAILURES


def code_request_queued(recent_requests: int) -> bool:
    """Whether another code is queued for an address that had this many requests within the window."""
    return recent_requests < CODES_PER_WINDOW


def code_takes_guesses(expires_at: datetime, attempts: int, now: datetime) -> bool:
    """Whether a pending one-time code may still be compared: not expired, not out of attempts."""
    return expires_at >= now and attempts < CODE_MAX_ATTEMPTS


def check_channel_identity(channel: str | None, sender_id: str | None) -> None:
    """Refuse what the columns cannot hold: PostgreSQL would raise DataError, SQLite would store it."""
    if channel is not None and not 0 < len(channel) <= 40:
        raise InvalidInput("channel", "A channel name has 1 to 40 characters.")
    if sender_id is not None and not 0 < len(sender_id) <= 255:
        raise InvalidInput("sender_id", "A sender id has 1 to 255 characters.")
    if "\x00" in (channel or "") + (sender_id or ""):
        raise InvalidInput("sender_id", "A channel or sender id cannot contain NUL characters.")


def storable_identity(channel: str, sender_id: str) -> bool:
    try:
        check_channel_identity(channel, sender_id)
    except InvalidInput:
        return False
    return True


# ---- profile --------------------------------------------------------------


def normalize_contact(field: ContactField, value: str) -> str:
    """The value as stored for this contact field; InvalidInput (naming the field) when it is not one."""
    if field is ContactField.EMAIL:
        return normalize_email(value)
    if field is ContactField.PHONE:
        return normalize_phone(value)
    return normalize_address(value)


def email_needs_confirmation() -> NotAllowed:
    """The generic contact update never changes the email address on file: that address receives one-time codes
    and notices, so it changes only once the new address confirms it (crm_adapter/contact_changes.py)."""
    return NotAllowed(
        "email_needs_confirmation",
        "The email address on file changes only once the new address is confirmed with a one-time code.",
    )


def loyalty_tier(points: int) -> tuple[str, int | None]:
    """The tier for a balance and the points still needed for the next one (None at the top)."""
    name, needed = LOYALTY_TIERS[0][0], None
    for index, (tier, threshold) in enumerate(LOYALTY_TIERS):
        if points >= threshold:
            name = tier
            following = LOYALTY_TIERS[index + 1][1] if index + 1 < len(LOYALTY_TIERS) else None
            needed = None if following is None else following - points
    return name, needed


def loyalty_balance(points: int) -> LoyaltyBalance:
    tier, to_next = loyalty_tier(points)
    return LoyaltyBalance(points=points, tier=tier, value_cents=points * POINT_VALUE_CENTS, points_to_next_tier=to_next)


# ---- orders ---------------------------------------------------------------


def orders_limit(limit: int) -> int:
    """How many orders a listing returns for the `limit` asked: at least 1, at most MAX_ORDERS_LISTED."""
    return max(1, min(limit, MAX_ORDERS_LISTED))


def recent_delivery_start(now: datetime) -> datetime:
    """Orders delivered at or after this are still worth mentioning to a returning customer."""
    return now - RECENT_DELIVERY


def check_cancellable(order_number: str, status: OrderStatus) -> None:
    """NotAllowed("order_<status>") unless the order has not left the warehouse yet."""
    if status not in CANCELLABLE_STATUSES:
        raise NotAllowed(f"order_{status.value}", f"Order {order_number} is {status.value}.")


@dataclass(frozen=True)
class CancellationTerms:
    """What cancelling an order costs under the shop's policy: free, the whole amount refunded, until it leaves the
    warehouse; after that it cannot be cancelled (a free return within the window instead)."""

    allowed: bool
    fee_cents: int
    refund_cents: int


def cancellation_terms(status: OrderStatus, total_cents: int) -> CancellationTerms:
    if status not in CANCELLABLE_STATUSES:
        return CancellationTerms(False, 0, 0)
    return CancellationTerms(True, 0, total_cents)


MAX_LINE_QUANTITY = 10


def check_changeable(order_number: str, status: OrderStatus) -> None:
    """NotAllowed("order_<status>") once the order has left the warehouse: the same line as cancelling."""
    check_cancellable(order_number, status)


def changed_lines(lines: tuple[OrderLine, ...], change: OrderChange) -> tuple[OrderLine, ...]:
    """The order's lines after `change` (an item removed or its quantity set). InvalidInput for an item not on the
    order or a quantity out of range; NotAllowed("last_item") for removing the only item left (cancel instead)."""
    if change.kind not in ("remove_item", "set_quantity"):
        raise InvalidInput("change", f"Change must be one of {', '.join(ORDER_CHANGE_KINDS)}.")
    if not any(line.sku == change.sku for line in lines):
        raise InvalidInput("sku", "That item is not on this order.")
    quantity = 0 if change.kind == "remove_item" else change.quantity
    if quantity is None or not 0 <= quantity <= MAX_LINE_QUANTITY:
        raise InvalidInput("quantity", f"The quantity must be between 0 and {MAX_LINE_QUANTITY}.")
    kept = tuple(
        line if line.sku != change.sku else OrderLine(line.sku, line.name, quantity, line.unit_price_cents)
        for line in lines
        if line.sku != change.sku or quantity > 0
    )
    if not kept:
        raise NotAllowed("last_item", "That is the only item on the order: cancel the order instead.")
    return kept


def delivery_address(change: OrderChange) -> str:
    """The new delivery address of a "deliver_to" change, checked like the address on file."""
    return normalize_address(change.address or "")


def return_reason(text: str) -> str:
    """The reason as stored (whitespace collapsed, control characters removed); InvalidInput when too short."""
    reason = " ".join(clean_text(text).split())
    if len(reason) < 3:
        raise InvalidInput("reason", "Please tell me briefly why you're returning it.")
    return reason[:RETURN_REASON_LENGTH]


def check_returnable(order_number: str, status: OrderStatus, delivered_at: datetime | None, now: datetime) -> None:
    """NotAllowed("not_delivered") or ("window_closed") unless delivered within RETURN_WINDOW."""
    if status is not OrderStatus.DELIVERED or delivered_at is None:
        raise NotAllowed("not_delivered", f"Order {order_number} hasn't been delivered yet.")
    if now - delivered_at > RETURN_WINDOW:
        raise NotAllowed("window_closed", "The 30-day return window for this order has closed.")


def return_already_requested(rma_number: str) -> NotAllowed:
    return NotAllowed("already_requested", f"A return ({rma_number}) already exists.")


# ---- tickets --------------------------------------------------------------


def ticket_text(subject: str, description: str) -> tuple[str, str]:
    """Subject and description as stored (cleaned, cut to length); InvalidInput when the subject is empty."""
    clean_subject = " ".join(clean_text(subject).split())[:TICKET_SUBJECT_LENGTH]
    if not clean_subject:
        raise InvalidInput("subject", "A ticket needs a subject.")
    return clean_subject, clean_text(description)[:TICKET_DESCRIPTION_LENGTH]


def ticket_priority(kind: TicketKind) -> str:
    return "high" if kind in (TicketKind.COMPLAINT, TicketKind.CALLBACK) else "normal"


def order_needs_customer() -> InvalidInput:
    return InvalidInput("order_number", "Only a verified customer can refer to an order.")


# ---- payment problems -------------------------------------------------------------

# What can go wrong with a payment, as the customer tells it; the words that give each away in a message.
PAYMENT_ISSUES = ("declined", "charged_twice", "refund_missing")
_PAYMENT_WORDS = (
    ("charged_twice", r"twice|two times|2 times|double|duplicate|charged (?:me )?again|two payments|2 payments"),
    ("refund_missing", r"refund|money back|not (?:been )?credited|hasn'?t come back|not come back"),
    ("declined", r"declin|reject|refus|won'?t go through|didn'?t go through|not going through|fail|error|"
                 r"won'?t accept|doesn'?t accept|not accepted|bounced|keeps? getting stopped|blocked"),
)  # fmt: skip


def payment_issue_in(text: str | None) -> str | None:
    """Which payment problem a message describes ("my card was declined", "you charged me twice"), if it says."""
    import re

    for issue, words in _PAYMENT_WORDS:
        if text and re.search(words, text, re.IGNORECASE):
            return issue
    return None


def payment_issue_needs_order(issue: str) -> bool:
    """A declined payment placed no order; the other problems are about one."""
    return issue != "declined"
