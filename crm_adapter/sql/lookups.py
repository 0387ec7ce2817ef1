"""Finding the customer and order rows the CRM's parts share, inside their unit of work."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crm_adapter.domain import InvalidInput, NotFound
from crm_adapter.sql.models import CustomerRow, OrderRow
from crm_adapter.validation import normalize_order_number


def customer_row(s: Session, customer_id: str) -> CustomerRow:
    """The customer's row; `NotFound` when there is none."""
    row = s.get(CustomerRow, customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id}")
    return row


def customer_with_email(s: Session, address: str) -> CustomerRow | None:
    """The customer with this (normalized) address on file, or None."""
    return s.scalar(select(CustomerRow).where(CustomerRow.email == address))


def order_row(s: Session, customer_id: str, order_number: str) -> OrderRow:
    """The customer's order with its lines; `NotFound` for a number that is not one, or not theirs."""
    try:
        number = normalize_order_number(order_number)
    except InvalidInput:
        raise NotFound(f"order {order_number}") from None
    row = s.scalar(
        select(OrderRow)
        .where(OrderRow.order_number == number, OrderRow.customer_id == customer_id)
        .options(selectinload(OrderRow.items))
    )
    if row is None:  # also when the order exists but belongs to someone else
        raise NotFound(f"order {number}")
    return row
