"""A customer's orders and returns on the SQL database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from crm_adapter.domain import Order, OrderChange, OrderStatus, ReturnRequest
from crm_adapter.rules import (
    changed_lines,
    check_cancellable,
    check_changeable,
    check_returnable,
    delivery_address,
    new_reference,
    orders_limit,
    return_already_requested,
    return_reason,
)
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row, order_row
from crm_adapter.sql.mapping import to_order, to_return
from crm_adapter.sql.models import OrderRow, ReturnRow


class Orders:
    """Listing, cancelling and returning orders: the orders part of `SqlCrmService`."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = clock

    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        with unit_of_work(self._sessions) as s:
            customer_row(s, customer_id)
            rows = s.scalars(
                select(OrderRow)
                .where(OrderRow.customer_id == customer_id)
                .options(selectinload(OrderRow.items))
                .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())
                .limit(orders_limit(limit))
            )
            return [to_order(r) for r in rows]

    def get_order(self, customer_id: str, order_number: str) -> Order:
        with unit_of_work(self._sessions) as s:
            return to_order(order_row(s, customer_id, order_number))

    def cancel_order(self, customer_id: str, order_number: str) -> Order:
        with unit_of_work(self._sessions) as s:
            row = order_row(s, customer_id, order_number)
            check_cancellable(row.order_number, OrderStatus(row.status))
            row.status = OrderStatus.CANCELLED.value
            row.cancelled_at = self._now()
            s.flush()
            return to_order(row)

    def change_order(self, customer_id: str, order_number: str, change: OrderChange) -> Order:
        with unit_of_work(self._sessions) as s:
            row = order_row(s, customer_id, order_number)
            check_changeable(row.order_number, OrderStatus(row.status))
            if change.kind == "deliver_to":
                row.delivery_address = delivery_address(change)
            else:
                lines = changed_lines(tuple(to_order(row).lines), change)
                quantities = {line.sku: line.quantity for line in lines}
                for item in list(row.items):
                    if item.sku not in quantities:
                        row.items.remove(item)
                    else:
                        item.quantity = quantities[item.sku]
                row.total_cents = sum(line.quantity * line.unit_price_cents for line in lines)
            s.flush()
            return to_order(row)

    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest:
        reason = return_reason(reason)
        with unit_of_work(self._sessions) as s:
            row = order_row(s, customer_id, order_number)
            check_returnable(row.order_number, OrderStatus(row.status), row.delivered_at, self._now())
            existing = s.scalar(select(ReturnRow).where(ReturnRow.order_id == row.id))
            if existing is not None:
                raise return_already_requested(existing.rma_number)
            ret = ReturnRow(
                rma_number=new_reference("RMA"),
                order_id=row.id,
                customer_id=customer_id,
                reason=reason,
                status="requested",
                refund_cents=row.total_cents,
                created_at=self._now(),
            )
            s.add(ret)
            s.flush()
            return to_return(ret, row.order_number)

    def list_returns(self, customer_id: str) -> list[ReturnRequest]:
        with unit_of_work(self._sessions) as s:
            rows = s.execute(
                select(ReturnRow, OrderRow.order_number)
                .join(OrderRow, OrderRow.id == ReturnRow.order_id)
                .where(ReturnRow.customer_id == customer_id)
                .order_by(ReturnRow.created_at.desc(), ReturnRow.id.desc())
            )
            return [to_return(r, number) for r, number in rows]
