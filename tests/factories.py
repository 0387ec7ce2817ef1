"""Build CRM rows for tests directly through the ORM."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

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


def add_customer(
    sessions: sessionmaker[Session],
    first_name: str = "Anna",
    last_name: str = "Berg",
    email: str | None = None,
    loyalty_points: int = 120,
    phone: str | None = "+447700900123",
) -> str:
    n = next(_seq)
    customer_id = f"cus_test{n:06d}"
    with sessions.begin() as s:
        s.add(
            CustomerRow(
                id=customer_id,
                first_name=first_name,
                last_name=last_name,
                email=email or f"customer{n}@example.com",
                phone=phone,
                address="12 Elm Street, Leeds LS1 4AB",
                loyalty_points=loyalty_points,
                created_at=NOW - timedelta(days=400),
                updated_at=NOW - timedelta(days=400),
            )
        )
    return customer_id


def add_order(
    sessions: sessionmaker[Session],
    customer_id: str,
    order_number: str,
    status: str = "shipped",
    placed_days_ago: float = 3,
    delivered_days_ago: float | None = None,
    items: tuple[tuple[str, int, int], ...] = (("Oak side table", 1, 8900),),
) -> str:
    with sessions.begin() as s:
        order = OrderRow(
            order_number=order_number,
            customer_id=customer_id,
            status=status,
            placed_at=NOW - timedelta(days=placed_days_ago),
            expected_delivery=NOW + timedelta(days=2) if status not in {"delivered", "cancelled", "returned"} else None,
            delivered_at=NOW - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None,
            total_cents=sum(q * p for _, q, p in items),
            currency="GBP",
            carrier="DPD" if status in {"shipped", "out_for_delivery", "delivered"} else None,
            tracking_number="DPD123456789" if status in {"shipped", "out_for_delivery", "delivered"} else None,
        )
        order.items = [
            OrderItemRow(sku=f"SKU{i}", name=name, quantity=q, unit_price_cents=p)
            for i, (name, q, p) in enumerate(items)
        ]
        s.add(order)
    return order_number


def add_ticket(
    sessions: sessionmaker[Session], customer_id: str, subject: str, status: str = "open", kind: str = "complaint"
) -> str:
    n = next(_seq)
    with sessions.begin() as s:
        s.add(
            TicketRow(
                reference=f"TK-T{n:05d}",
                customer_id=customer_id,
                kind=kind,
                status=status,
                priority="normal",
                subject=subject,
                description=subject,
                channel="rest",
                created_at=NOW - timedelta(days=2),
                updated_at=NOW - timedelta(days=2),
            )
        )
    return f"TK-T{n:05d}"


def add_identity(sessions: sessionmaker[Session], customer_id: str, channel: str, sender_id: str) -> None:
    with sessions.begin() as s:
        s.add(
            ChannelIdentityRow(
                customer_id=customer_id, channel=channel, sender_id=sender_id, verified_at=NOW, last_seen_at=NOW
            )
        )
