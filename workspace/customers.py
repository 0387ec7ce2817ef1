"""Looking customers up, and the customer page an agent reads.

`search` finds customers by name, email, phone number, order number or customer id in the CRM database. The
page puts together what the CRM core, the relationship and the history already know (profile, value and its
reasons, consents, preferences, sentiment, orders, tickets, the relationship timeline); it reads through their
ports, so it shows what the customer's own export would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import Customer, CustomerProfile, InvalidInput, Order, Ticket, TimelinePage
from crm_adapter.ports import CrmService, HistoryReader, RelationshipService
from crm_adapter.sql.models import CustomerRow, OrderRow

MIN_QUERY, MAX_QUERY, MAX_RESULTS = 2, 100, 25
_ORDER_NUMBER = re.compile(r"[A-Za-z]{2}\d{3,}")
_PHONE = re.compile(r"\+?[\d\s().-]{4,}")


@dataclass(frozen=True)
class CustomerMatch:
    customer_id: str
    name: str
    email: str
    phone: str | None
    tier: str | None
    matched_on: str  # name | email | phone | order | id


@dataclass(frozen=True)
class CustomerPage:
    customer: Customer
    profile: CustomerProfile
    orders: tuple[Order, ...]
    tickets: tuple[Ticket, ...]
    timeline: TimelinePage


def _like(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % and _ taken literally (escape character '\\')."""
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _phone_digits(column: Any) -> ColumnElement[str]:
    stripped: ColumnElement[str] = func.coalesce(column, "")
    for char in (" ", "-", "(", ")", ".", "+"):
        stripped = func.replace(stripped, char, "")
    return stripped


class CustomerDirectory:
    """Search over the CRM database's customers; the page through the services' ports."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        crm: CrmService,
        relationship: RelationshipService,
        history: HistoryReader,
    ) -> None:
        self._sessions = sessions
        self._crm = crm
        self._relationship = relationship
        self._history = history

    def search(self, query: str) -> list[CustomerMatch]:
        """Up to 25 customers, best kind of match first: an order number or customer id, then email, phone, name.
        Refuses a query shorter than two characters (it would list everyone)."""
        text = " ".join(query.split())
        if len(text) < MIN_QUERY:
            raise InvalidInput("q", f"Type at least {MIN_QUERY} characters of a name, an email, a phone or an order.")
        if len(text) > MAX_QUERY:
            raise InvalidInput("q", f"Type at most {MAX_QUERY} characters.")
        found: dict[str, CustomerMatch] = {}
        with self._sessions() as s:
            for matched_on, condition, joined in self._conditions(text):
                statement = select(CustomerRow)
                if joined:
                    statement = statement.join(OrderRow, OrderRow.customer_id == CustomerRow.id)
                statement = statement.where(condition).order_by(CustomerRow.last_name, CustomerRow.first_name)
                for row in s.scalars(statement.limit(MAX_RESULTS)).unique():
                    if row.id not in found and len(found) < MAX_RESULTS:
                        found[row.id] = CustomerMatch(
                            row.id,
                            f"{row.first_name} {row.last_name}".strip(),
                            row.email,
                            row.phone,
                            row.value_tier,
                            matched_on,
                        )
        return list(found.values())

    @staticmethod
    def _conditions(text: str) -> list[tuple[str, ColumnElement[bool], bool]]:
        """(what matched, the condition, whether it needs the orders) for each way `text` can point at someone."""
        compact = text.replace(" ", "")
        conditions: list[tuple[str, ColumnElement[bool], bool]] = []
        if _ORDER_NUMBER.fullmatch(compact):
            conditions.append(("order", func.upper(OrderRow.order_number) == compact.upper(), True))
        conditions.append(("id", CustomerRow.id == text, False))
        if "@" in text:
            conditions.append(("email", func.lower(CustomerRow.email).like(_like(compact), escape="\\"), False))
            return conditions
        digits = _digits(text)
        if _PHONE.fullmatch(text) and len(digits) >= 4:
            # "+44 7700 900123", "07700900123" and "900 123" all find +447700900123: compare the digits, and a
            # leading 0 (a national number) as the digits after the country code.
            national = digits[1:] if digits.startswith("0") else digits
            conditions.append(("phone", _phone_digits(CustomerRow.phone).like(f"%{national}%"), False))
            return conditions
        words = [w for w in text.lower().split() if w]
        name = and_(
            *(
                or_(
                    func.lower(CustomerRow.first_name).like(_like(w), escape="\\"),
                    func.lower(CustomerRow.last_name).like(_like(w), escape="\\"),
                )
                for w in words
            )
        )
        conditions.append(("name", name, False))
        conditions.append(("email", func.lower(CustomerRow.email).like(_like(compact), escape="\\"), False))
        return conditions

    def page(self, customer_id: str, cursor: str | None = None) -> CustomerPage:
        """Everything an agent sees on the customer page (NotFound for an unknown customer)."""
        customer = self._crm.get_customer(customer_id)
        return CustomerPage(
            customer=customer,
            profile=self._relationship.profile(customer_id),
            orders=tuple(self._crm.list_orders(customer_id, limit=20)),
            tickets=tuple(self._crm.list_tickets(customer_id)),
            timeline=self._history.timeline(customer_id, cursor=cursor, limit=20),
        )
