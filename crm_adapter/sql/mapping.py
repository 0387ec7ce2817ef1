"""The CRM's rows (crm_adapter/sql/models.py) as the domain's dataclasses."""

from __future__ import annotations

from crm_adapter.domain import (
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    Ticket,
    TicketKind,
    TicketStatus,
)
from crm_adapter.sql.models import CustomerRow, OrderRow, ReturnRow, TicketRow


def to_customer(row: CustomerRow) -> Customer:
    return Customer(
        customer_id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone=row.phone,
        address=row.address,
        loyalty_points=row.loyalty_points,
    )


def to_order(row: OrderRow) -> Order:
    """The order with its lines (load `OrderRow.items` with the row)."""
    return Order(
        order_number=row.order_number,
        customer_id=row.customer_id,
        status=OrderStatus(row.status),
        placed_at=row.placed_at,
        expected_delivery=row.expected_delivery,
        delivered_at=row.delivered_at,
        total_cents=row.total_cents,
        currency=row.currency,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        lines=tuple(OrderLine(i.sku, i.name, i.quantity, i.unit_price_cents) for i in row.items),
        delivery_address=row.delivery_address,
    )


def to_return(row: ReturnRow, order_number: str) -> ReturnRequest:
    return ReturnRequest(
        rma_number=row.rma_number,
        order_number=order_number,
        reason=row.reason,
        status=row.status,
        refund_cents=row.refund_cents,
        created_at=row.created_at,
        refunded_at=row.refunded_at,
    )


def to_ticket(row: TicketRow) -> Ticket:
    return Ticket(
        reference=row.reference,
        customer_id=row.customer_id,
        kind=TicketKind(row.kind),
        status=TicketStatus(row.status),
        subject=row.subject,
        description=row.description,
        channel=row.channel,
        order_number=row.order.order_number if row.order is not None else None,
        created_at=row.created_at,
    )
