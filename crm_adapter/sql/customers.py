"""The customer's profile on the SQL database: who they are, what to greet them with, their contact details
and loyalty points."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from crm_adapter.domain import (
    OPEN_ORDER_STATUSES,
    ContactField,
    Customer,
    CustomerContext,
    Highlight,
    InvalidInput,
    LoyaltyBalance,
    OrderStatus,
    TicketStatus,
)
from crm_adapter.rules import email_needs_confirmation, loyalty_balance, normalize_contact, recent_delivery_start
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row, customer_with_email
from crm_adapter.sql.mapping import to_customer, to_order
from crm_adapter.sql.models import CustomerRow, OrderRow, TicketRow
from crm_adapter.validation import normalize_email


class Customers:
    """The profile part of `SqlCrmService`."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = clock

    def customer_by_email(self, email: str) -> Customer | None:
        """The customer with this address on file, or None (also for an address that is not one)."""
        try:
            address = normalize_email(email)
        except InvalidInput:
            return None
        with unit_of_work(self._sessions) as s:
            row = customer_with_email(s, address)
            return to_customer(row) if row is not None else None

    def website_password_hash(self, customer_id: str) -> str | None:
        """The hash of the customer's password on the shop's website, or None: no such customer, or one who
        cannot sign in there."""
        with unit_of_work(self._sessions) as s:
            row = s.get(CustomerRow, customer_id)
            return row.website_password_hash if row is not None else None

    def get_customer(self, customer_id: str) -> Customer:
        with unit_of_work(self._sessions) as s:
            return to_customer(customer_row(s, customer_id))

    def customer_context(self, customer_id: str) -> CustomerContext:
        with unit_of_work(self._sessions) as s:
            return context_of(s, customer_id, self._now)

    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer:
        """Phone or address; the email address changes only once confirmed (crm_adapter/contact_changes.py)."""
        field = ContactField(field)
        if field is ContactField.EMAIL:
            raise email_needs_confirmation()
        normalized = normalize_contact(field, value)
        with unit_of_work(self._sessions) as s:
            row = customer_row(s, customer_id)
            setattr(row, field.value, normalized)
            row.updated_at = self._now()
            s.flush()
            return to_customer(row)

    def loyalty(self, customer_id: str) -> LoyaltyBalance:
        with unit_of_work(self._sessions) as s:
            points = customer_row(s, customer_id).loyalty_points
        return loyalty_balance(points)


def context_of(s: Session, customer_id: str, clock: Callable[[], datetime]) -> CustomerContext:
    """What the bot greets the customer with: their newest open ticket, else their order highlight."""
    customer = customer_row(s, customer_id)
    open_tickets = list(
        s.scalars(
            select(TicketRow)
            .where(
                TicketRow.customer_id == customer_id,
                TicketRow.status != TicketStatus.RESOLVED.value,
            )
            .order_by(TicketRow.updated_at.desc(), TicketRow.id.desc())
        )
    )
    highlight: Highlight | None = None
    if open_tickets:
        t = open_tickets[0]
        highlight = Highlight("open_ticket", t.reference, t.subject, t.status)
    else:
        highlight = _order_highlight(s, customer_id, clock())
    return CustomerContext(
        customer_id=customer.id,
        first_name=customer.first_name,
        loyalty_points=customer.loyalty_points,
        highlight=highlight,
        open_ticket_count=len(open_tickets),
    )


def _order_highlight(s: Session, customer_id: str, now: datetime) -> Highlight | None:
    """The newest order still on its way; otherwise one delivered in the last two weeks."""
    in_progress = s.scalar(
        select(OrderRow)
        .where(
            OrderRow.customer_id == customer_id,
            OrderRow.status.in_([status.value for status in OPEN_ORDER_STATUSES]),
        )
        .options(selectinload(OrderRow.items))
        .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())
    )
    if in_progress is not None:
        order = to_order(in_progress)
        return Highlight("order_in_progress", order.order_number, order.summary, order.status.value)
    delivered = s.scalar(
        select(OrderRow)
        .where(
            OrderRow.customer_id == customer_id,
            OrderRow.status == OrderStatus.DELIVERED.value,
            OrderRow.delivered_at >= recent_delivery_start(now),
        )
        .options(selectinload(OrderRow.items))
        .order_by(OrderRow.delivered_at.desc(), OrderRow.id.desc())
    )
    if delivered is not None:
        order = to_order(delivered)
        return Highlight("order_delivered", order.order_number, order.summary, order.status.value)
    return None
