"""Plain domain objects returned by every CRM backend.

Actions and the CRM API only ever see these dataclasses, never ORM rows or raw
JSON, so the SQL and HTTP backends are interchangeable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class OrderStatus(str, Enum):
    PLACED = "placed"
    PACKED = "packed"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    RETURNED = "returned"


OPEN_ORDER_STATUSES = frozenset(
    {OrderStatus.PLACED, OrderStatus.PACKED, OrderStatus.SHIPPED, OrderStatus.OUT_FOR_DELIVERY}
)
CANCELLABLE_STATUSES = frozenset({OrderStatus.PLACED, OrderStatus.PACKED})


class TicketKind(str, Enum):
    COMPLAINT = "complaint"
    DELIVERY_PROBLEM = "delivery_problem"
    CALLBACK = "callback"
    GENERAL = "general"
    PAYMENT_PROBLEM = "payment_problem"


class TicketStatus(str, Enum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class ContactField(str, Enum):
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"


@dataclass(frozen=True)
class Customer:
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: str | None
    loyalty_points: int


@dataclass(frozen=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class Order:
    order_number: str
    customer_id: str
    status: OrderStatus
    placed_at: datetime
    expected_delivery: datetime | None
    delivered_at: datetime | None
    total_cents: int
    currency: str
    carrier: str | None
    tracking_number: str | None
    lines: tuple[OrderLine, ...] = ()
    delivery_address: str | None = None  # where this order goes, when not the customer's address on file

    @property
    def summary(self) -> str:
        """A short human description such as 'Oak side table and 2 more items'."""
        if not self.lines:
            return f"order {self.order_number}"
        head = self.lines[0]
        first = head.name if head.quantity == 1 else f"{head.quantity} x {head.name}"
        rest = sum(line.quantity for line in self.lines[1:])
        return first if rest <= 0 else f"{first} and {rest} more item{'s' if rest > 1 else ''}"


@dataclass(frozen=True)
class OrderChange:
    """A change to an order that has not left the warehouse: "remove_item" (sku), "set_quantity" (sku, quantity;
    0 removes the item) or "deliver_to" (address)."""

    kind: str
    sku: str | None = None
    quantity: int | None = None
    address: str | None = None


ORDER_CHANGE_KINDS = ("remove_item", "set_quantity", "deliver_to")


@dataclass(frozen=True)
class Ticket:
    reference: str
    customer_id: str | None
    kind: TicketKind
    status: TicketStatus
    subject: str
    description: str
    channel: str | None
    order_number: str | None
    created_at: datetime


@dataclass(frozen=True)
class NewTicket:
    kind: TicketKind
    subject: str
    description: str
    customer_id: str | None = None
    channel: str | None = None
    sender_id: str | None = None
    order_number: str | None = None


@dataclass(frozen=True)
class ReturnRequest:
    rma_number: str
    order_number: str
    reason: str
    status: str
    refund_cents: int
    created_at: datetime
    refunded_at: datetime | None


@dataclass(frozen=True)
class Highlight:
    """The one thing worth mentioning to a returning customer."""

    kind: str  # "open_ticket" | "order_in_progress" | "order_delivered"
    reference: str
    detail: str
    status: str


@dataclass(frozen=True)
class CustomerContext:
    customer_id: str
    first_name: str
    loyalty_points: int
    highlight: Highlight | None
    last_contact_at: datetime | None = None
    open_ticket_count: int = 0
    tags: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class LoyaltyBalance:
    points: int
    tier: str
    value_cents: int
    points_to_next_tier: int | None


@dataclass(frozen=True)
class TimelineEntry:
    """One event in a customer's relationship history."""

    kind: str  # "conversation" | "ticket" | "return" | "order" | "feedback" | "review"
    reference: str  # conversation id, ticket reference, RMA number, order number, feedback or review id
    occurred_at: datetime
    title: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelinePage:
    """Newest first; `next_cursor` fetches the next (older) page, None at the end."""

    customer_id: str
    entries: tuple[TimelineEntry, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class HistoryMessage:
    sender: str  # "customer" | "bot" | "agent"
    text: str | None
    sent_at: datetime
    intent: str | None = None
    confidence: float | None = None
    response: str | None = None
    actions: tuple[str, ...] = ()
    slots: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConversationDetail:
    """A conversation with one page of its messages (oldest first; `next_cursor` continues)."""

    conversation_id: int
    customer_id: str | None
    channel: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    summary: str | None
    intents: dict[str, int]
    references: dict[str, list[str]]
    message_count: int
    messages: tuple[HistoryMessage, ...]
    next_cursor: str | None


PURPOSES = ("history", "service", "marketing")  # consent is asked and kept per purpose


@dataclass(frozen=True)
class Consents:
    """What the customer agreed to, per purpose; None where they have not been asked yet."""

    history: bool | None = None  # remember my conversations
    service: bool | None = None  # service messages (order updates, replies to tickets)
    marketing: bool | None = None  # offers and news

    def get(self, purpose: str) -> bool | None:
        return getattr(self, purpose) if purpose in PURPOSES else None

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(p for p in PURPOSES if self.get(p) is None)


@dataclass(frozen=True)
class PreferenceProposal:
    """What the bot noticed and offers to remember, e.g. {"channel": "whatsapp", "time_of_day": "evening"}."""

    values: dict[str, str]
    description: str  # "you usually message us in the evening on WhatsApp"


@dataclass(frozen=True)
class SurveyPlan:
    csat: bool
    nps: bool


@dataclass(frozen=True)
class NewFeedback:
    kind: str  # csat | nps
    score: int | None
    comment: str | None = None
    customer_id: str | None = None
    resolution: str | None = None  # csat: "bot" | "person"
    channel: str | None = None
    sender_id: str | None = None


@dataclass(frozen=True)
class SentimentTrend:
    points: tuple[float, ...]  # per conversation, oldest first
    average: float | None
    label: str
    direction: str  # improving | worsening | steady | unknown


@dataclass(frozen=True)
class CustomerProfile:
    """Everything the business knows about a customer, as shown to them, to agents and through the API."""

    customer: Customer
    value: Any  # relationship.value.CustomerValue
    consents: Consents
    preferences: dict[str, str]
    sentiment: SentimentTrend
    channels: tuple[str, ...]
    conversations: int
    orders: int
    open_tickets: int
    loyalty_points: int


@dataclass(frozen=True)
class ErasureReceipt:
    job_id: int
    sender_ids: int


@dataclass(frozen=True)
class EmailChangeStarted:
    """What a store found when an email change began (crm_adapter/contact_changes.py decides what to send)."""

    first_name: str
    current_email: str
    taken_by: Customer | None  # the other customer who has the new address on file, if any
    started_recently: int  # email changes this customer began within the guessing window, before this one


@dataclass(frozen=True)
class EmailChanged:
    """An email change confirmed with the code sent to the new address, and applied."""

    customer_id: str
    first_name: str
    old_email: str
    new_email: str


# ---- errors -------------------------------------------------------------


class CrmError(Exception):
    """Base class of every error a CRM backend raises."""


class CrmUnavailable(CrmError):
    """The CRM store could not be reached (database down, HTTP timeout, 5xx)."""


class NotFound(CrmError):
    """The record does not exist, or does not belong to this customer."""


class NotAllowed(CrmError):
    """The request breaks a business rule; `reason` is a stable machine code."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


class InvalidInput(CrmError):
    """A value failed validation; `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class VerificationFailed(CrmError):
    """The identity proof did not match. Deliberately says nothing about why."""


class CodeRequired(VerificationFailed):
    """No order number is taken for this address for now (too many wrong ones within the guessing window): only a
    one-time code emailed to it proves who the customer is. Raised alike whether or not the address is on file."""
