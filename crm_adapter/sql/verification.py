"""Proving who a customer is on the SQL database: by an order of theirs or by a one-time code emailed to them.

Guessing is slowed per claimed address, never by locking a customer out: wrong order numbers are counted under a
keyed hash of the address they were given with (whether or not it is on file), and past the limit only a one-time
code emailed to the address proves who the customer is (`CodeRequired`). Asking for a code only queues the request,
with the same work whether or not the address is on file; the worker makes and emails the codes (`deliver_codes`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import CodeRequired, Customer, InvalidInput, VerificationFailed
from crm_adapter.ports import CodeSender
from crm_adapter.rules import (
    CODE_TTL,
    CODES_PER_WINDOW,
    address_key,
    code_request_queued,
    code_takes_guesses,
    guessing_window_start,
    new_one_time_code,
    order_proofs_refused,
)
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_with_email
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import CodeRequestRow, CustomerRow, OneTimeCodeRow, OrderProofFailureRow, OrderRow
from crm_adapter.validation import normalize_email, normalize_order_number

log = logging.getLogger(__name__)

CODE_DELIVERY_BATCH = 50  # code requests handled per call of `deliver_codes`


class Proofs:
    """Verification by order and by one-time code, and the queue of code requests: the proving part of
    `SqlCrmService`.

    Codes are stored as an HMAC keyed with `secret`, never as sent; addresses are counted under `address_key`.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        code_sender: CodeSender,
        secret: bytes,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._code_sender = code_sender
        self._secret = secret
        self._now = clock

    def verify_with_order(self, email: str, order_number: str) -> Customer:
        try:
            address = normalize_email(email)
            number = normalize_order_number(order_number)
        except InvalidInput:
            raise VerificationFailed() from None
        key = address_key(self._secret, address)
        with unit_of_work(self._sessions) as s:
            if order_proofs_refused(self._within_window(s, OrderProofFailureRow, key)):
                log.warning("order number not taken: too many wrong ones for this address within the hour")
                raise CodeRequired()
            customer_id = s.scalar(
                select(CustomerRow.id)
                .join(OrderRow, OrderRow.customer_id == CustomerRow.id)
                .where(CustomerRow.email == address, OrderRow.order_number == number)
            )
            if customer_id is None:
                s.add(OrderProofFailureRow(address_key=key, created_at=self._now()))
                customer = None
            else:
                customer = to_customer(s.get_one(CustomerRow, customer_id))
        if customer is None:  # raised after the unit of work, so the failure is committed
            raise VerificationFailed()
        return customer

    def send_one_time_code(self, email: str) -> None:
        """Queues a code for the address: the same work, and the same answer, whether or not it is on file."""
        try:
            address = normalize_email(email)
        except InvalidInput:
            return
        key = address_key(self._secret, address)
        with unit_of_work(self._sessions) as s:
            queued = code_request_queued(self._within_window(s, CodeRequestRow, key))
            customer_id = s.scalar(select(CustomerRow.id).where(CustomerRow.email == address))
            if queued:
                s.add(CodeRequestRow(address_key=key, customer_id=customer_id, created_at=self._now()))
        if not queued:  # the caller hears the same; the inbox is not flooded, nor codes farmed to guess
            log.warning("one-time code not queued: %d requested for this address within the hour", CODES_PER_WINDOW)

    def deliver_codes(self, limit: int = CODE_DELIVERY_BATCH) -> int:
        """Makes and emails a code for each queued request of a customer's address (oldest first; a request for an
        address not on file, or older than a code's lifetime, is only marked handled). Returns the codes sent.

        A new code replaces the customer's earlier ones. The code is emailed before it is stored, outside the
        transaction: a mail server that fails leaves the request queued for the next round (the error is raised)."""
        sent = 0
        for _ in range(limit):
            with unit_of_work(self._sessions) as s:
                request = s.scalar(
                    select(CodeRequestRow)
                    .where(CodeRequestRow.handled_at.is_(None))
                    .order_by(CodeRequestRow.id)
                    .limit(1)
                )
                if request is None:
                    break
                now = self._now()
                owner = s.get(CustomerRow, request.customer_id) if request.customer_id else None
                if owner is None or request.created_at + CODE_TTL < now:
                    request.handled_at = now
                    continue
                request_id, customer_id, target, first_name = request.id, owner.id, owner.email, owner.first_name
            code = new_one_time_code()
            self._code_sender.send_code(target, first_name, code)
            with unit_of_work(self._sessions) as s:
                now = self._now()
                s.get_one(CodeRequestRow, request_id).handled_at = now
                for pending in s.scalars(
                    select(OneTimeCodeRow).where(
                        OneTimeCodeRow.customer_id == customer_id, OneTimeCodeRow.used_at.is_(None)
                    )
                ):
                    pending.used_at = now  # a new code replaces every earlier one
                s.add(
                    OneTimeCodeRow(
                        customer_id=customer_id,
                        code_hash=self._hash_code(customer_id, code),
                        created_at=now,
                        expires_at=now + CODE_TTL,
                        attempts=0,
                    )
                )
            sent += 1
        self._forget_old()
        return sent

    def verify_one_time_code(self, email: str, code: str) -> Customer:
        try:
            address = normalize_email(email)
        except InvalidInput:
            raise VerificationFailed() from None
        with unit_of_work(self._sessions) as s:
            row = customer_with_email(s, address)
            if row is None:
                raise VerificationFailed()
            pending = s.scalar(
                select(OneTimeCodeRow)
                .where(OneTimeCodeRow.customer_id == row.id, OneTimeCodeRow.used_at.is_(None))
                .order_by(OneTimeCodeRow.id.desc())
            )
            now = self._now()
            if pending is None or not code_takes_guesses(pending.expires_at, pending.attempts, now):
                matched = False
            else:
                matched = hmac.compare_digest(pending.code_hash, self._hash_code(row.id, code.strip()))
                if matched:
                    pending.used_at = now
                else:
                    pending.attempts += 1  # each code takes CODE_MAX_ATTEMPTS guesses
            customer = to_customer(row)
        if not matched:  # raised after the unit of work, so the failed attempt is committed
            raise VerificationFailed()
        return customer

    def _within_window(self, s: Session, rows: type[OrderProofFailureRow] | type[CodeRequestRow], key: str) -> int:
        """How many of this address's `rows` (wrong order numbers, code requests) are from within the window."""
        since = guessing_window_start(self._now())
        query = select(func.count()).select_from(rows).where(rows.address_key == key, rows.created_at > since)
        return s.scalar(query) or 0

    def _forget_old(self) -> None:
        """Drops what no longer counts: wrong order numbers and handled code requests older than the window."""
        since = guessing_window_start(self._now())
        with unit_of_work(self._sessions) as s:
            s.execute(delete(OrderProofFailureRow).where(OrderProofFailureRow.created_at <= since))
            s.execute(
                delete(CodeRequestRow).where(CodeRequestRow.handled_at.is_not(None), CodeRequestRow.created_at <= since)
            )

    def _hash_code(self, customer_id: str, code: str) -> str:
        return hmac.new(self._secret, f"{customer_id}:{code}".encode(), hashlib.sha256).hexdigest()
