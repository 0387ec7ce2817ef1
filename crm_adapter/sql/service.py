"""The CRM service on our own SQL database (SQLite by default, PostgreSQL in production).

`SqlCrmService` puts together the parts, one per seam of the port: channel identities
(identities.py), verification (verification.py), the profile (customers.py), orders and returns
(orders.py) and tickets (tickets.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import (
    ContactField,
    Customer,
    CustomerContext,
    LoyaltyBalance,
    NewTicket,
    Order,
    OrderChange,
    ReturnRequest,
    Ticket,
)
from crm_adapter.ports import CodeSender
from crm_adapter.rules import utcnow
from crm_adapter.sql.customers import Customers
from crm_adapter.sql.identities import ChannelIdentities
from crm_adapter.sql.orders import Orders
from crm_adapter.sql.tickets import Tickets
from crm_adapter.sql.verification import Proofs


class SqlCrmService:
    """Implements `crm_adapter.ports.CrmService` on a SQLAlchemy session factory."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        code_sender: CodeSender,
        secret: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = session_factory
        self._identities = ChannelIdentities(session_factory, clock)
        self._proofs = Proofs(session_factory, code_sender, secret.encode(), clock)
        self._customers = Customers(session_factory, clock)
        self._orders = Orders(session_factory, clock)
        self._tickets = Tickets(session_factory, clock)

    # ---- identity -------------------------------------------------------

    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None:
        return self._identities.recognize(channel, sender_id)

    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None:
        self._identities.link_identity(customer_id, channel, sender_id)

    def unlink_identity(self, channel: str, sender_id: str) -> bool:
        return self._identities.unlink_identity(channel, sender_id)

    def verify_with_order(self, email: str, order_number: str) -> Customer:
        return self._proofs.verify_with_order(email, order_number)

    def send_one_time_code(self, email: str) -> None:
        self._proofs.send_one_time_code(email)

    def verify_one_time_code(self, email: str, code: str) -> Customer:
        return self._proofs.verify_one_time_code(email, code)

    def deliver_codes(self) -> int:
        """Makes and emails the queued one-time codes (the worker's `code_delivery`); returns how many were sent."""
        return self._proofs.deliver_codes()

    # ---- profile --------------------------------------------------------

    def customer_by_email(self, email: str) -> Customer | None:
        """The customer with this address on file, or None (also for an address that is not one)."""
        return self._customers.customer_by_email(email)

    def website_password_hash(self, customer_id: str) -> str | None:
        return self._customers.website_password_hash(customer_id)

    def get_customer(self, customer_id: str) -> Customer:
        return self._customers.get_customer(customer_id)

    def customer_context(self, customer_id: str) -> CustomerContext:
        return self._customers.customer_context(customer_id)

    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer:
        return self._customers.update_contact(customer_id, field, value)

    def loyalty(self, customer_id: str) -> LoyaltyBalance:
        return self._customers.loyalty(customer_id)

    # ---- orders ---------------------------------------------------------

    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        return self._orders.list_orders(customer_id, limit)

    def get_order(self, customer_id: str, order_number: str) -> Order:
        return self._orders.get_order(customer_id, order_number)

    def change_order(self, customer_id: str, order_number: str, change: OrderChange) -> Order:
        return self._orders.change_order(customer_id, order_number, change)

    def cancel_order(self, customer_id: str, order_number: str) -> Order:
        return self._orders.cancel_order(customer_id, order_number)

    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest:
        return self._orders.start_return(customer_id, order_number, reason)

    def list_returns(self, customer_id: str) -> list[ReturnRequest]:
        return self._orders.list_returns(customer_id)

    # ---- tickets --------------------------------------------------------

    def open_ticket(self, ticket: NewTicket) -> Ticket:
        return self._tickets.open_ticket(ticket)

    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]:
        return self._tickets.list_tickets(customer_id, open_only)
