"""`CrmService` in memory: the SQL service's observable behaviour (crm_adapter/sql/service.py) on plain records.

The rules come from crm_adapter/rules.py and crm_adapter/validation.py, as the SQL service's do; this module
only stores, finds and orders records the way the SQL queries do (newest first, ties broken by insertion).
The contract suite (tests/integration/test_crm_contract.py) holds it to the same tests as the real backends.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_adapter.domain import (
    OPEN_ORDER_STATUSES,
    CodeRequired,
    ContactField,
    CrmUnavailable,
    Customer,
    CustomerContext,
    Highlight,
    InvalidInput,
    LoyaltyBalance,
    NewTicket,
    NotFound,
    Order,
    OrderChange,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    Ticket,
    TicketKind,
    TicketStatus,
    VerificationFailed,
)
from crm_adapter.ports import CodeSender
from crm_adapter.rules import (
    CODE_TTL,
    address_key,
    changed_lines,
    check_cancellable,
    check_changeable,
    check_channel_identity,
    check_returnable,
    code_request_queued,
    code_takes_guesses,
    delivery_address,
    email_needs_confirmation,
    guessing_window_start,
    loyalty_balance,
    new_one_time_code,
    new_reference,
    normalize_contact,
    order_needs_customer,
    order_proofs_refused,
    orders_limit,
    recent_delivery_start,
    return_already_requested,
    return_reason,
    storable_identity,
    ticket_priority,
    ticket_text,
    utcnow,
)
from crm_adapter.sql.mapping import to_customer
from crm_adapter.validation import normalize_email, normalize_order_number
from tests.factories import Arrange, Values

# ---- records: the CRM's rows, as plain objects (fields named as the columns) ----------------------


@dataclass
class CustomerRecord:
    id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: str | None
    loyalty_points: int
    created_at: datetime
    updated_at: datetime
    website_password_hash: str | None = None


@dataclass
class IdentityRecord:
    customer_id: str
    channel: str
    sender_id: str
    verified_at: datetime
    last_seen_at: datetime


@dataclass
class OrderRecord:
    id: int
    order_number: str
    customer_id: str
    status: str
    placed_at: datetime
    expected_delivery: datetime | None
    delivered_at: datetime | None
    total_cents: int
    currency: str
    carrier: str | None
    tracking_number: str | None
    lines: tuple[OrderLine, ...] = ()
    cancelled_at: datetime | None = None
    delivery_address: str | None = None


@dataclass
class ReturnRecord:
    id: int
    rma_number: str
    order_id: int
    customer_id: str
    reason: str
    status: str
    refund_cents: int
    created_at: datetime
    refunded_at: datetime | None = None


@dataclass
class TicketRecord:
    id: int
    reference: str
    customer_id: str | None
    kind: str
    status: str
    priority: str
    subject: str
    description: str
    channel: str | None
    created_at: datetime
    updated_at: datetime
    order_id: int | None = None
    sender_id: str | None = None


@dataclass
class CodeRecord:
    id: int
    customer_id: str
    code: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    attempts: int = 0


@dataclass
class FailureRecord:
    """A wrong order number given with an address (its keyed hash, `address_key`), whoever owns it."""

    address_key: str
    created_at: datetime


@dataclass
class AccountTokenRecord:
    """A website account link (website_account_tokens): by the SHA-256 of its token."""

    token_hash: str
    purpose: str
    address_key: str
    created_at: datetime
    expires_at: datetime
    customer_id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    password_hash: str | None = None
    used_at: datetime | None = None


@dataclass
class WebsiteSessionRecord:
    id: str
    customer_id: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


@dataclass
class CodeRequestRecord:
    """A one-time code asked for, queued until `deliver_codes` handles it."""

    id: int
    address_key: str
    customer_id: str | None
    created_at: datetime
    handled_at: datetime | None = None


@dataclass
class MemoryCrmStore:
    """Everything a `MemoryCrmService` keeps; tests may read it as they would read the database."""

    customers: dict[str, CustomerRecord] = field(default_factory=dict)
    identities: dict[tuple[str, str], IdentityRecord] = field(default_factory=dict)  # by (channel, sender id)
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    returns: list[ReturnRecord] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    codes: list[CodeRecord] = field(default_factory=list)
    failures: list[FailureRecord] = field(default_factory=list)
    website_sessions: dict[str, WebsiteSessionRecord] = field(default_factory=dict)  # by sign-in id
    code_requests: list[CodeRequestRecord] = field(default_factory=list)
    account_tokens: dict[str, AccountTokenRecord] = field(default_factory=dict)  # by the token's SHA-256
    reviews: list[Any] = field(default_factory=list)  # tests/fakes/reviews.py's ReviewRecord
    down: bool = False  # the database cannot be reached: every service on this store raises CrmUnavailable
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def reach(self) -> None:
        if self.down:
            raise CrmUnavailable("CRM database unavailable: the in-memory store is down")

    def next_id(self) -> int:
        """Increasing, as the tables' autoincrement keys, so ties in time sort by insertion."""
        return next(self._ids)

    def customer_by_email(self, email: str) -> CustomerRecord | None:
        return next((c for c in self.customers.values() if c.email == email), None)

    def order_number_of(self, order_id: int | None) -> str | None:
        return self.orders[order_id].order_number if order_id is not None else None


class MemoryArrange(Arrange):
    """`Arrange` into a `MemoryCrmStore`, refusing what the database's keys and constraints would refuse."""

    def __init__(self, store: MemoryCrmStore) -> None:
        self.store = store

    def _put_customer(self, customer: Values) -> None:
        if customer["id"] in self.store.customers or self.store.customer_by_email(customer["email"]):
            raise ValueError(f"duplicate customer {customer['id']} / {customer['email']}")
        self.store.customers[customer["id"]] = CustomerRecord(**customer)

    def _put_order(self, order: Values, lines: list[Values]) -> None:
        self._known_customer(order["customer_id"])
        if any(o.order_number == order["order_number"] for o in self.store.orders.values()):
            raise ValueError(f"duplicate order number {order['order_number']}")
        record = OrderRecord(id=self.store.next_id(), lines=tuple(OrderLine(**line) for line in lines), **order)
        self.store.orders[record.id] = record

    def _put_ticket(self, ticket: Values) -> None:
        self._known_customer(ticket["customer_id"])
        if any(t.reference == ticket["reference"] for t in self.store.tickets):
            raise ValueError(f"duplicate ticket reference {ticket['reference']}")
        self.store.tickets.append(TicketRecord(id=self.store.next_id(), **ticket))

    def _put_identity(self, identity: Values) -> None:
        self._known_customer(identity["customer_id"])
        key = (identity["channel"], identity["sender_id"])
        if key in self.store.identities:
            raise ValueError(f"duplicate channel identity {key}")
        self.store.identities[key] = IdentityRecord(**identity)

    def _known_customer(self, customer_id: str | None) -> None:
        if customer_id is not None and customer_id not in self.store.customers:
            raise ValueError(f"no customer {customer_id}")


class MemoryCrmService:
    """Implements `crm_adapter.ports.CrmService` on a `MemoryCrmStore`. While the store is down
    (`MemoryCrmStore.down`) every method raises `CrmUnavailable` where the SQL service would open a session,
    i.e. after checking its input."""

    def __init__(
        self,
        store: MemoryCrmStore,
        code_sender: CodeSender,
        clock: Callable[[], datetime] = utcnow,
        secret: bytes = b"memory",
    ) -> None:
        self.store = store
        self._code_sender = code_sender
        self._now = clock
        self._secret = secret

    def _customer_record(self, customer_id: str) -> CustomerRecord:
        record = self.store.customers.get(customer_id)
        if record is None:
            raise NotFound(f"customer {customer_id}")
        return record

    def _order_record(self, customer_id: str, order_number: str) -> OrderRecord:
        try:
            number = normalize_order_number(order_number)
        except InvalidInput:
            raise NotFound(f"order {order_number}") from None
        for record in self.store.orders.values():
            if record.order_number == number and record.customer_id == customer_id:
                return record
        raise NotFound(f"order {number}")  # also when the order exists but belongs to someone else

    # ---- identity -------------------------------------------------------

    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None:
        if not storable_identity(channel, sender_id):
            return None
        self.store.reach()
        identity = self.store.identities.get((channel, sender_id))
        if identity is None:
            return None
        identity.last_seen_at = self._now()
        return self._context(identity.customer_id)

    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None:
        check_channel_identity(channel, sender_id)
        self.store.reach()
        self._customer_record(customer_id)
        now = self._now()
        self.store.identities[(channel, sender_id)] = IdentityRecord(customer_id, channel, sender_id, now, now)

    def unlink_identity(self, channel: str, sender_id: str) -> bool:
        if not storable_identity(channel, sender_id):
            return False
        self.store.reach()
        return self.store.identities.pop((channel, sender_id), None) is not None

    def verify_with_order(self, email: str, order_number: str) -> Customer:
        try:
            address = normalize_email(email)
            number = normalize_order_number(order_number)
        except InvalidInput:
            raise VerificationFailed() from None
        key = address_key(self._secret, address)
        self.store.reach()
        if order_proofs_refused(self._within_window(self.store.failures, key)):
            raise CodeRequired()
        record = self.store.customer_by_email(address)
        if record is None or not any(
            o.customer_id == record.id and o.order_number == number for o in self.store.orders.values()
        ):
            self.store.failures.append(FailureRecord(key, self._now()))
            raise VerificationFailed()
        return _customer(record)

    def send_one_time_code(self, email: str) -> None:
        try:
            address = normalize_email(email)
        except InvalidInput:
            return
        key = address_key(self._secret, address)
        self.store.reach()
        if code_request_queued(self._within_window(self.store.code_requests, key)):
            record = self.store.customer_by_email(address)
            self.store.code_requests.append(
                CodeRequestRecord(self.store.next_id(), key, record.id if record else None, self._now())
            )

    def deliver_codes(self) -> int:
        """Makes and emails a code for each queued request of a customer's address (as `SqlCrmService`'s)."""
        self.store.reach()
        sent = 0
        for request in [r for r in self.store.code_requests if r.handled_at is None]:
            now = self._now()
            owner = self.store.customers.get(request.customer_id) if request.customer_id else None
            if owner is None or request.created_at + CODE_TTL < now:
                request.handled_at = now
                continue
            code = new_one_time_code()
            self._code_sender.send_code(owner.email, owner.first_name, code)  # raises: the request stays queued
            request.handled_at = now
            for pending in self.store.codes:
                if pending.customer_id == owner.id and pending.used_at is None:
                    pending.used_at = now  # a new code replaces every earlier one
            self.store.codes.append(CodeRecord(self.store.next_id(), owner.id, code, now, now + CODE_TTL))
            sent += 1
        since = guessing_window_start(self._now())
        self.store.failures = [f for f in self.store.failures if f.created_at > since]
        self.store.code_requests = [r for r in self.store.code_requests if r.handled_at is None or r.created_at > since]
        return sent

    def verify_one_time_code(self, email: str, code: str) -> Customer:
        try:
            address = normalize_email(email)
        except InvalidInput:
            raise VerificationFailed() from None
        self.store.reach()
        record = self.store.customer_by_email(address)
        if record is None:
            raise VerificationFailed()
        pending = max(
            (c for c in self.store.codes if c.customer_id == record.id and c.used_at is None),
            key=lambda c: c.id,
            default=None,
        )
        now = self._now()
        if pending is None or not code_takes_guesses(pending.expires_at, pending.attempts, now):
            raise VerificationFailed()
        if pending.code != code.strip():
            pending.attempts += 1
            raise VerificationFailed()
        pending.used_at = now
        return _customer(record)

    def _within_window(self, rows: list[FailureRecord] | list[CodeRequestRecord], key: str) -> int:
        since = guessing_window_start(self._now())
        return sum(1 for r in rows if r.address_key == key and r.created_at > since)

    # ---- profile --------------------------------------------------------

    def get_customer(self, customer_id: str) -> Customer:
        self.store.reach()
        return _customer(self._customer_record(customer_id))

    def customer_context(self, customer_id: str) -> CustomerContext:
        self.store.reach()
        return self._context(customer_id)

    def _context(self, customer_id: str) -> CustomerContext:
        customer = self._customer_record(customer_id)
        open_tickets = sorted(
            (t for t in self.store.tickets if t.customer_id == customer_id and t.status != TicketStatus.RESOLVED.value),
            key=lambda t: (t.updated_at, t.id),
            reverse=True,
        )
        if open_tickets:
            t = open_tickets[0]
            highlight: Highlight | None = Highlight("open_ticket", t.reference, t.subject, t.status)
        else:
            highlight = self._order_highlight(customer_id)
        return CustomerContext(
            customer_id=customer.id,
            first_name=customer.first_name,
            loyalty_points=customer.loyalty_points,
            highlight=highlight,
            open_ticket_count=len(open_tickets),
        )

    def _order_highlight(self, customer_id: str) -> Highlight | None:
        """The newest order still on its way; otherwise one delivered in the last two weeks."""
        orders = [o for o in self.store.orders.values() if o.customer_id == customer_id]
        in_progress = [o for o in orders if OrderStatus(o.status) in OPEN_ORDER_STATUSES]
        if in_progress:
            order = _order(max(in_progress, key=lambda o: (o.placed_at, o.id)))
            return Highlight("order_in_progress", order.order_number, order.summary, order.status.value)
        since = recent_delivery_start(self._now())
        delivered = [
            o
            for o in orders
            if o.status == OrderStatus.DELIVERED.value and o.delivered_at is not None and o.delivered_at >= since
        ]
        if delivered:
            order = _order(max(delivered, key=lambda o: (o.delivered_at or since, o.id)))
            return Highlight("order_delivered", order.order_number, order.summary, order.status.value)
        return None

    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer:
        field = ContactField(field)
        if field is ContactField.EMAIL:
            raise email_needs_confirmation()
        normalized = normalize_contact(field, value)
        self.store.reach()
        record = self._customer_record(customer_id)
        setattr(record, field.value, normalized)
        record.updated_at = self._now()
        return _customer(record)

    def loyalty(self, customer_id: str) -> LoyaltyBalance:
        self.store.reach()
        return loyalty_balance(self._customer_record(customer_id).loyalty_points)

    # ---- orders ---------------------------------------------------------

    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        self.store.reach()
        self._customer_record(customer_id)
        orders = sorted(
            (o for o in self.store.orders.values() if o.customer_id == customer_id),
            key=lambda o: (o.placed_at, o.id),
            reverse=True,
        )
        return [_order(o) for o in orders[: orders_limit(limit)]]

    def get_order(self, customer_id: str, order_number: str) -> Order:
        self.store.reach()
        return _order(self._order_record(customer_id, order_number))

    def cancel_order(self, customer_id: str, order_number: str) -> Order:
        self.store.reach()
        record = self._order_record(customer_id, order_number)
        check_cancellable(record.order_number, OrderStatus(record.status))
        record.status = OrderStatus.CANCELLED.value
        record.cancelled_at = self._now()
        return _order(record)

    def change_order(self, customer_id: str, order_number: str, change: OrderChange) -> Order:
        self.store.reach()
        record = self._order_record(customer_id, order_number)
        check_changeable(record.order_number, OrderStatus(record.status))
        if change.kind == "deliver_to":
            record.delivery_address = delivery_address(change)
        else:
            record.lines = changed_lines(record.lines, change)
            record.total_cents = sum(line.quantity * line.unit_price_cents for line in record.lines)
        return _order(record)

    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest:
        reason = return_reason(reason)
        self.store.reach()
        order = self._order_record(customer_id, order_number)
        check_returnable(order.order_number, OrderStatus(order.status), order.delivered_at, self._now())
        existing = next((r for r in self.store.returns if r.order_id == order.id), None)
        if existing is not None:
            raise return_already_requested(existing.rma_number)
        record = ReturnRecord(
            id=self.store.next_id(),
            rma_number=new_reference("RMA"),
            order_id=order.id,
            customer_id=customer_id,
            reason=reason,
            status="requested",
            refund_cents=order.total_cents,
            created_at=self._now(),
        )
        self.store.returns.append(record)
        return self._return(record)

    def list_returns(self, customer_id: str) -> list[ReturnRequest]:
        self.store.reach()
        mine = (r for r in self.store.returns if r.customer_id == customer_id)
        return [self._return(r) for r in sorted(mine, key=lambda r: (r.created_at, r.id), reverse=True)]

    def _return(self, record: ReturnRecord) -> ReturnRequest:
        return ReturnRequest(
            rma_number=record.rma_number,
            order_number=self.store.orders[record.order_id].order_number,
            reason=record.reason,
            status=record.status,
            refund_cents=record.refund_cents,
            created_at=record.created_at,
            refunded_at=record.refunded_at,
        )

    # ---- tickets --------------------------------------------------------

    def open_ticket(self, ticket: NewTicket) -> Ticket:
        subject, description = ticket_text(ticket.subject, ticket.description)
        check_channel_identity(ticket.channel, ticket.sender_id)
        self.store.reach()
        order_id = None
        if ticket.order_number:
            if ticket.customer_id is None:
                raise order_needs_customer()
            order_id = self._order_record(ticket.customer_id, ticket.order_number).id
        elif ticket.customer_id is not None:
            self._customer_record(ticket.customer_id)
        now = self._now()
        record = TicketRecord(
            id=self.store.next_id(),
            reference=new_reference("TK"),
            customer_id=ticket.customer_id,
            kind=TicketKind(ticket.kind).value,
            status=TicketStatus.OPEN.value,
            priority=ticket_priority(ticket.kind),
            subject=subject,
            description=description,
            channel=ticket.channel,
            created_at=now,
            updated_at=now,
            order_id=order_id,
            sender_id=ticket.sender_id,
        )
        self.store.tickets.append(record)
        return self._ticket(record)

    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]:
        self.store.reach()
        mine = [t for t in self.store.tickets if t.customer_id == customer_id]
        if open_only:
            mine = [t for t in mine if t.status != TicketStatus.RESOLVED.value]
        return [self._ticket(t) for t in sorted(mine, key=lambda t: (t.created_at, t.id), reverse=True)]

    def _ticket(self, record: TicketRecord) -> Ticket:
        return Ticket(
            reference=record.reference,
            customer_id=record.customer_id,
            kind=TicketKind(record.kind),
            status=TicketStatus(record.status),
            subject=record.subject,
            description=record.description,
            channel=record.channel,
            order_number=self.store.order_number_of(record.order_id),
            created_at=record.created_at,
        )


def _customer(record: CustomerRecord) -> Customer:
    return to_customer(record)  # type: ignore[arg-type] # a record has the row's fields


def _order(record: OrderRecord) -> Order:
    return Order(
        order_number=record.order_number,
        customer_id=record.customer_id,
        status=OrderStatus(record.status),
        placed_at=record.placed_at,
        expected_delivery=record.expected_delivery,
        delivered_at=record.delivered_at,
        total_cents=record.total_cents,
        currency=record.currency,
        carrier=record.carrier,
        tracking_number=record.tracking_number,
        lines=record.lines,
        delivery_address=record.delivery_address,
    )
