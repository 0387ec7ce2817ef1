"""Support tickets on the SQL database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import NewTicket, Ticket, TicketKind, TicketStatus
from crm_adapter.rules import check_channel_identity, new_reference, order_needs_customer, ticket_priority, ticket_text
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row, order_row
from crm_adapter.sql.mapping import to_ticket
from crm_adapter.sql.models import TicketRow


class Tickets:
    """Opening and listing tickets: the tickets part of `SqlCrmService`."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._now = clock

    def open_ticket(self, ticket: NewTicket) -> Ticket:
        subject, description = ticket_text(ticket.subject, ticket.description)
        check_channel_identity(ticket.channel, ticket.sender_id)
        with unit_of_work(self._sessions) as s:
            order_id = None
            if ticket.order_number:
                if ticket.customer_id is None:
                    raise order_needs_customer()
                order_id = order_row(s, ticket.customer_id, ticket.order_number).id
            elif ticket.customer_id is not None:
                customer_row(s, ticket.customer_id)
            now = self._now()
            row = TicketRow(
                reference=new_reference("TK"),
                customer_id=ticket.customer_id,
                order_id=order_id,
                kind=TicketKind(ticket.kind).value,
                status=TicketStatus.OPEN.value,
                priority=ticket_priority(ticket.kind),
                subject=subject,
                description=description,
                channel=ticket.channel,
                sender_id=ticket.sender_id,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            return to_ticket(row)

    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]:
        with unit_of_work(self._sessions) as s:
            query = select(TicketRow).where(TicketRow.customer_id == customer_id)
            if open_only:
                query = query.where(TicketRow.status != TicketStatus.RESOLVED.value)
            rows = s.scalars(query.order_by(TicketRow.created_at.desc(), TicketRow.id.desc()))
            return [to_ticket(r) for r in rows]
