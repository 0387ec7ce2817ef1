"""The interfaces the rest of the system depends on."""

from __future__ import annotations

from typing import Protocol

from crm_adapter.domain import (
    ContactField,
    ConversationDetail,
    Customer,
    CustomerContext,
    LoyaltyBalance,
    NewTicket,
    Order,
    ReturnRequest,
    Ticket,
    TimelinePage,
)


class CrmService(Protocol):
    """Everything the bot may ask of the customer relationship store.

    Implemented by `SqlCrmService` (our own database) and `HttpCrmService`
    (an external CRM speaking the JSON contract in docs/crm-rest-contract.md).
    Every method raises `CrmUnavailable` when the store cannot be reached.
    """

    # identity
    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None: ...
    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None: ...
    def unlink_identity(self, channel: str, sender_id: str) -> bool: ...
    def verify_with_order(self, email: str, order_number: str) -> Customer: ...
    def send_one_time_code(self, email: str) -> None: ...
    def verify_one_time_code(self, email: str, code: str) -> Customer: ...

    # profile
    def get_customer(self, customer_id: str) -> Customer: ...
    def customer_context(self, customer_id: str) -> CustomerContext: ...
    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer: ...
    def loyalty(self, customer_id: str) -> LoyaltyBalance: ...

    # orders
    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]: ...
    def get_order(self, customer_id: str, order_number: str) -> Order: ...
    def cancel_order(self, customer_id: str, order_number: str) -> Order: ...
    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest: ...
    def list_returns(self, customer_id: str) -> list[ReturnRequest]: ...

    # tickets
    def open_ticket(self, ticket: NewTicket) -> Ticket: ...
    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]: ...


class CodeSender(Protocol):
    """Delivers a one-time code to a customer over a channel we already trust (email)."""

    def send_code(self, email: str, first_name: str, code: str) -> None: ...


class HistoryReader(Protocol):
    """The relationship history, read back (`crm_adapter.history.timeline.SqlHistoryService`).

    Raises `NotFound` for an unknown customer, or a conversation that is not theirs, and
    `InvalidInput("cursor")` for a cursor it did not hand out.
    """

    def timeline(self, customer_id: str, cursor: str | None = None, limit: int = 20) -> TimelinePage: ...
    def conversation(
        self, customer_id: str, conversation_id: int, cursor: str | None = None, limit: int = 50
    ) -> ConversationDetail: ...
