"""The CRM service on our own SQL database (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from crm_adapter.domain import (
    OPEN_ORDER_STATUSES,
    ContactField,
    Customer,
    CustomerContext,
    Highlight,
    InvalidInput,
    LoyaltyBalance,
    NewTicket,
    NotFound,
    Order,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    Ticket,
    TicketKind,
    TicketStatus,
    VerificationFailed,
)
from crm_adapter.ports import CodeSender
from crm_adapter.rules import (
    CODE_TTL,
    CODES_PER_WINDOW,
    MAX_VERIFICATION_FAILURES,
    check_cancellable,
    check_channel_identity,
    check_returnable,
    code_takes_guesses,
    email_in_use,
    guessing_window_start,
    loyalty_balance,
    new_one_time_code,
    new_reference,
    normalize_contact,
    order_needs_customer,
    orders_limit,
    recent_delivery_start,
    return_already_requested,
    return_reason,
    storable_identity,
    ticket_priority,
    ticket_text,
    utcnow,
)
from crm_adapter.sql.db import unavailable_as_crm_error
from crm_adapter.sql.models import (
    ChannelIdentityRow,
    CustomerRow,
    OneTimeCodeRow,
    OrderRow,
    ReturnRow,
    TicketRow,
    VerificationFailureRow,
)
from crm_adapter.validation import normalize_email, normalize_order_number

log = logging.getLogger(__name__)


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
        self._code_sender = code_sender
        self._secret = secret.encode()
        self._now = clock

    # ---- plumbing -------------------------------------------------------

    @contextmanager
    def _uow(self) -> Iterator[Session]:
        """A unit of work: commits when the block succeeds, rolls back otherwise."""
        with unavailable_as_crm_error(), self._sessions() as session, session.begin():
            yield session

    def _customer_row(self, session: Session, customer_id: str) -> CustomerRow:
        row = session.get(CustomerRow, customer_id)
        if row is None:
            raise NotFound(f"customer {customer_id}")
        return row

    def _order_row(self, session: Session, customer_id: str, order_number: str) -> OrderRow:
        try:
            number = normalize_order_number(order_number)
        except InvalidInput:
            raise NotFound(f"order {order_number}") from None
        row = session.scalar(
            select(OrderRow)
            .where(OrderRow.order_number == number, OrderRow.customer_id == customer_id)
            .options(selectinload(OrderRow.items))
        )
        if row is None:  # also when the order exists but belongs to someone else
            raise NotFound(f"order {number}")
        return row

    # ---- identity -------------------------------------------------------

    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None:
        if not storable_identity(channel, sender_id):
            return None  # no such identity can have been stored
        with self._uow() as s:
            identity = _identity_row(s, channel, sender_id)
            if identity is None:
                return None
            identity.last_seen_at = self._now()
            return self._context(s, identity.customer_id)

    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None:
        check_channel_identity(channel, sender_id)
        with self._uow() as s:
            self._customer_row(s, customer_id)
            identity = _identity_row(s, channel, sender_id)
            now = self._now()
            if identity is None:
                s.add(
                    ChannelIdentityRow(
                        customer_id=customer_id,
                        channel=channel,
                        sender_id=sender_id,
                        verified_at=now,
                        last_seen_at=now,
                    )
                )
            else:
                identity.customer_id = customer_id
                identity.verified_at = now
                identity.last_seen_at = now

    def unlink_identity(self, channel: str, sender_id: str) -> bool:
        if not storable_identity(channel, sender_id):
            return False
        with self._uow() as s:
            identity = _identity_row(s, channel, sender_id)
            if identity is None:
                return False
            s.delete(identity)
            return True

    def verify_with_order(self, email: str, order_number: str) -> Customer:
        try:
            address = normalize_email(email)
            number = normalize_order_number(order_number)
        except InvalidInput:
            raise VerificationFailed() from None
        with self._uow() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.email == address))
            if row is None:
                raise VerificationFailed()
            if self._guessing_stopped(s, row.id):
                raise VerificationFailed()
            order = s.scalar(select(OrderRow.id).where(OrderRow.customer_id == row.id, OrderRow.order_number == number))
            matched = order is not None
            if not matched:
                self._failed_proof(s, row.id, "order")
            customer = _customer(row)
        if not matched:  # raised after the unit of work, so the failure is committed
            raise VerificationFailed()
        return customer

    def send_one_time_code(self, email: str) -> None:
        try:
            address = normalize_email(email)
        except InvalidInput:
            return
        with self._uow() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.email == address))
            if row is None:
                # Say nothing different to the caller: whether an address is on file is private.
                log.info("one-time code requested for an unknown address")
                return
            now = self._now()
            recent = self._within_window(s, OneTimeCodeRow, row.id)
            if recent >= CODES_PER_WINDOW:
                # The caller hears the same as always; the owner's inbox is not flooded, nor codes farmed to guess.
                log.warning("one-time code not sent: %d codes sent for this customer within the hour", recent)
                return
            for pending in s.scalars(
                select(OneTimeCodeRow).where(OneTimeCodeRow.customer_id == row.id, OneTimeCodeRow.used_at.is_(None))
            ):
                pending.used_at = now  # a new code replaces every earlier one
            code = new_one_time_code()
            s.add(
                OneTimeCodeRow(
                    customer_id=row.id,
                    code_hash=self._hash_code(row.id, code),
                    created_at=now,
                    expires_at=now + CODE_TTL,
                    attempts=0,
                )
            )
            first_name, target = row.first_name, row.email
        self._code_sender.send_code(target, first_name, code)

    def verify_one_time_code(self, email: str, code: str) -> Customer:
        try:
            address = normalize_email(email)
        except InvalidInput:
            raise VerificationFailed() from None
        with self._uow() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.email == address))
            if row is None:
                raise VerificationFailed()
            pending = s.scalar(
                select(OneTimeCodeRow)
                .where(OneTimeCodeRow.customer_id == row.id, OneTimeCodeRow.used_at.is_(None))
                .order_by(OneTimeCodeRow.id.desc())
            )
            now = self._now()
            if self._guessing_stopped(s, row.id):
                raise VerificationFailed()
            if pending is None or not code_takes_guesses(pending.expires_at, pending.attempts, now):
                self._failed_proof(s, row.id, "code")
                matched = False
            else:
                matched = hmac.compare_digest(pending.code_hash, self._hash_code(row.id, code.strip()))
                if matched:
                    pending.used_at = now
                else:
                    pending.attempts += 1
                    self._failed_proof(s, row.id, "code")
            customer = _customer(row)
        if not matched:  # raised after the unit of work, so the failed attempt is committed
            raise VerificationFailed()
        return customer

    def _guessing_stopped(self, s: Session, customer_id: str) -> bool:
        """Whether this customer's wrong proofs within the window reached MAX_VERIFICATION_FAILURES."""
        if self._within_window(s, VerificationFailureRow, customer_id) >= MAX_VERIFICATION_FAILURES:
            log.warning("verification refused: too many wrong proofs for this customer within the hour")
            return True
        return False

    def _within_window(
        self, s: Session, rows: type[OneTimeCodeRow] | type[VerificationFailureRow], customer_id: str
    ) -> int:
        """How many of this customer's `rows` (codes sent, wrong proofs) are from within GUESSING_WINDOW."""
        since = guessing_window_start(self._now())
        query = select(func.count()).select_from(rows).where(rows.customer_id == customer_id, rows.created_at > since)
        return s.scalar(query) or 0

    def _failed_proof(self, s: Session, customer_id: str, kind: str) -> None:
        s.add(VerificationFailureRow(customer_id=customer_id, kind=kind, created_at=self._now()))

    def _hash_code(self, customer_id: str, code: str) -> str:
        return hmac.new(self._secret, f"{customer_id}:{code}".encode(), hashlib.sha256).hexdigest()

    # ---- profile --------------------------------------------------------

    def customer_by_email(self, email: str) -> Customer | None:
        """The customer with this address on file, or None (also for an address that is not one)."""
        try:
            address = normalize_email(email)
        except InvalidInput:
            return None
        with self._uow() as s:
            row = s.scalar(select(CustomerRow).where(CustomerRow.email == address))
            return _customer(row) if row is not None else None

    def get_customer(self, customer_id: str) -> Customer:
        with self._uow() as s:
            return _customer(self._customer_row(s, customer_id))

    def customer_context(self, customer_id: str) -> CustomerContext:
        with self._uow() as s:
            return self._context(s, customer_id)

    def _context(self, s: Session, customer_id: str) -> CustomerContext:
        customer = self._customer_row(s, customer_id)
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
            highlight = self._order_highlight(s, customer_id)
        return CustomerContext(
            customer_id=customer.id,
            first_name=customer.first_name,
            loyalty_points=customer.loyalty_points,
            highlight=highlight,
            open_ticket_count=len(open_tickets),
        )

    def _order_highlight(self, s: Session, customer_id: str) -> Highlight | None:
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
            order = _order(in_progress)
            return Highlight("order_in_progress", order.order_number, order.summary, order.status.value)
        delivered = s.scalar(
            select(OrderRow)
            .where(
                OrderRow.customer_id == customer_id,
                OrderRow.status == OrderStatus.DELIVERED.value,
                OrderRow.delivered_at >= recent_delivery_start(self._now()),
            )
            .options(selectinload(OrderRow.items))
            .order_by(OrderRow.delivered_at.desc(), OrderRow.id.desc())
        )
        if delivered is not None:
            order = _order(delivered)
            return Highlight("order_delivered", order.order_number, order.summary, order.status.value)
        return None

    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer:
        field = ContactField(field)
        normalized = normalize_contact(field, value)
        try:
            with self._uow() as s:
                row = self._customer_row(s, customer_id)
                if field is ContactField.EMAIL:
                    clash = s.scalar(
                        select(CustomerRow.id).where(CustomerRow.email == normalized, CustomerRow.id != customer_id)
                    )
                    if clash is not None:
                        raise email_in_use()
                setattr(row, field.value, normalized)
                row.updated_at = self._now()
                s.flush()
                return _customer(row)
        except IntegrityError:
            raise email_in_use() from None

    def loyalty(self, customer_id: str) -> LoyaltyBalance:
        with self._uow() as s:
            points = self._customer_row(s, customer_id).loyalty_points
        return loyalty_balance(points)

    # ---- orders ---------------------------------------------------------

    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        with self._uow() as s:
            self._customer_row(s, customer_id)
            rows = s.scalars(
                select(OrderRow)
                .where(OrderRow.customer_id == customer_id)
                .options(selectinload(OrderRow.items))
                .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())
                .limit(orders_limit(limit))
            )
            return [_order(r) for r in rows]

    def get_order(self, customer_id: str, order_number: str) -> Order:
        with self._uow() as s:
            return _order(self._order_row(s, customer_id, order_number))

    def cancel_order(self, customer_id: str, order_number: str) -> Order:
        with self._uow() as s:
            row = self._order_row(s, customer_id, order_number)
            check_cancellable(row.order_number, OrderStatus(row.status))
            row.status = OrderStatus.CANCELLED.value
            row.cancelled_at = self._now()
            s.flush()
            return _order(row)

    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest:
        reason = return_reason(reason)
        with self._uow() as s:
            row = self._order_row(s, customer_id, order_number)
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
            return _return(ret, row.order_number)

    def list_returns(self, customer_id: str) -> list[ReturnRequest]:
        with self._uow() as s:
            rows = s.execute(
                select(ReturnRow, OrderRow.order_number)
                .join(OrderRow, OrderRow.id == ReturnRow.order_id)
                .where(ReturnRow.customer_id == customer_id)
                .order_by(ReturnRow.created_at.desc(), ReturnRow.id.desc())
            )
            return [_return(r, number) for r, number in rows]

    # ---- tickets --------------------------------------------------------

    def open_ticket(self, ticket: NewTicket) -> Ticket:
        subject, description = ticket_text(ticket.subject, ticket.description)
        check_channel_identity(ticket.channel, ticket.sender_id)
        with self._uow() as s:
            order_id = None
            if ticket.order_number:
                if ticket.customer_id is None:
                    raise order_needs_customer()
                order_id = self._order_row(s, ticket.customer_id, ticket.order_number).id
            elif ticket.customer_id is not None:
                self._customer_row(s, ticket.customer_id)
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
            return _ticket(row)

    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]:
        with self._uow() as s:
            query = select(TicketRow).where(TicketRow.customer_id == customer_id)
            if open_only:
                query = query.where(TicketRow.status != TicketStatus.RESOLVED.value)
            rows = s.scalars(query.order_by(TicketRow.created_at.desc(), TicketRow.id.desc()))
            return [_ticket(r) for r in rows]


def _identity_row(s: Session, channel: str, sender_id: str) -> ChannelIdentityRow | None:
    return s.scalar(
        select(ChannelIdentityRow).where(
            ChannelIdentityRow.channel == channel, ChannelIdentityRow.sender_id == sender_id
        )
    )


# ---- row → domain mapping ------------------------------------------------


def _customer(row: CustomerRow) -> Customer:
    return Customer(
        customer_id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone=row.phone,
        address=row.address,
        loyalty_points=row.loyalty_points,
    )


def _order(row: OrderRow) -> Order:
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
    )


def _return(row: ReturnRow, order_number: str) -> ReturnRequest:
    return ReturnRequest(
        rma_number=row.rma_number,
        order_number=order_number,
        reason=row.reason,
        status=row.status,
        refund_cents=row.refund_cents,
        created_at=row.created_at,
        refunded_at=row.refunded_at,
    )


def _ticket(row: TicketRow) -> Ticket:
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
