"""Arrange CRM data for tests: `Arrange` builds the records, `SqlArrange` writes them through the ORM
(tests/fakes/crm.py's `MemoryArrange` keeps them in a `MemoryCrmStore`)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.sql.models import ChannelIdentityRow, CustomerRow, OrderItemRow, OrderRow, TicketRow

NOW = datetime(2026, 11, 20, 12, 0, 0)
_seq = itertools.count(1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


Values = dict[str, Any]  # a record's fields, named as the CRM's columns (crm_adapter/sql/models.py)


class Arrange:
    """Puts customers, orders, tickets and channel identities straight into a CRM store, bypassing the service.

    The records are the same whatever the store; a subclass only says where they go (`_put_*`).
    """

    def add_customer(
        self,
        first_name: str = "Anna",
        last_name: str = "Berg",
        email: str | None = None,
        loyalty_points: int = 120,
        phone: str | None = "+447700900123",
    ) -> str:
        n = next(_seq)
        customer_id = f"cus_test{n:06d}"
        self._put_customer(
            {
                "id": customer_id,
                "first_name": first_name,
                "last_name": last_name,
                "email": email or f"customer{n}@example.com",
                "phone": phone,
                "address": "12 Elm Street, Leeds LS1 4AB",
                "loyalty_points": loyalty_points,
                "created_at": NOW - timedelta(days=400),
                "updated_at": NOW - timedelta(days=400),
            }
        )
        return customer_id

    def add_order(
        self,
        customer_id: str,
        order_number: str,
        status: str = "shipped",
        placed_days_ago: float = 3,
        delivered_days_ago: float | None = None,
        items: tuple[tuple[str, int, int], ...] = (("Oak side table", 1, 8900),),
    ) -> str:
        on_its_way = status in {"shipped", "out_for_delivery", "delivered"}
        arrived = status in {"delivered", "cancelled", "returned"}
        order = {
            "order_number": order_number,
            "customer_id": customer_id,
            "status": status,
            "placed_at": NOW - timedelta(days=placed_days_ago),
            "expected_delivery": None if arrived else NOW + timedelta(days=2),
            "delivered_at": NOW - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None,
            "total_cents": sum(q * p for _, q, p in items),
            "currency": "GBP",
            "carrier": "DPD" if on_its_way else None,
            "tracking_number": "DPD123456789" if on_its_way else None,
        }
        lines = [
            {"sku": f"SKU{i}", "name": name, "quantity": quantity, "unit_price_cents": price}
            for i, (name, quantity, price) in enumerate(items)
        ]
        self._put_order(order, lines)
        return order_number

    def add_ticket(self, customer_id: str, subject: str, status: str = "open", kind: str = "complaint") -> str:
        reference = f"TK-T{next(_seq):05d}"
        self._put_ticket(
            {
                "reference": reference,
                "customer_id": customer_id,
                "kind": kind,
                "status": status,
                "priority": "normal",
                "subject": subject,
                "description": subject,
                "channel": "rest",
                "created_at": NOW - timedelta(days=2),
                "updated_at": NOW - timedelta(days=2),
            }
        )
        return reference

    def add_identity(self, customer_id: str, channel: str, sender_id: str) -> None:
        self._put_identity(
            {
                "customer_id": customer_id,
                "channel": channel,
                "sender_id": sender_id,
                "verified_at": NOW,
                "last_seen_at": NOW,
            }
        )

    def _put_customer(self, customer: Values) -> None:
        raise NotImplementedError

    def _put_order(self, order: Values, lines: list[Values]) -> None:
        raise NotImplementedError

    def _put_ticket(self, ticket: Values) -> None:
        raise NotImplementedError

    def _put_identity(self, identity: Values) -> None:
        raise NotImplementedError


class SqlArrange(Arrange):
    """Writes the records as rows of the CRM database behind `sessions`."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def _put_customer(self, customer: Values) -> None:
        with self.sessions.begin() as s:
            s.add(CustomerRow(**customer))

    def _put_order(self, order: Values, lines: list[Values]) -> None:
        with self.sessions.begin() as s:
            row = OrderRow(**order)
            row.items = [OrderItemRow(**line) for line in lines]
            s.add(row)

    def _put_ticket(self, ticket: Values) -> None:
        with self.sessions.begin() as s:
            s.add(TicketRow(**ticket))

    def _put_identity(self, identity: Values) -> None:
        with self.sessions.begin() as s:
            s.add(ChannelIdentityRow(**identity))


def add_customer(sessions: sessionmaker[Session], *args: Any, **fields: Any) -> str:
    """`Arrange.add_customer` into the database behind `sessions`."""
    return SqlArrange(sessions).add_customer(*args, **fields)


def add_order(sessions: sessionmaker[Session], *args: Any, **fields: Any) -> str:
    """`Arrange.add_order` into the database behind `sessions`."""
    return SqlArrange(sessions).add_order(*args, **fields)


def add_ticket(sessions: sessionmaker[Session], *args: Any, **fields: Any) -> str:
    """`Arrange.add_ticket` into the database behind `sessions`."""
    return SqlArrange(sessions).add_ticket(*args, **fields)


def add_identity(sessions: sessionmaker[Session], *args: Any, **fields: Any) -> None:
    """`Arrange.add_identity` into the database behind `sessions`."""
    SqlArrange(sessions).add_identity(*args, **fields)
