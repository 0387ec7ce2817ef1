"""Proving who a customer is on the SQL database: by an order of theirs or by a one-time code emailed to
them, with every wrong proof counted per customer so that guessing stops within the window."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import Customer, InvalidInput, VerificationFailed
from crm_adapter.ports import CodeSender
from crm_adapter.rules import (
    CODE_TTL,
    CODES_PER_WINDOW,
    MAX_VERIFICATION_FAILURES,
    code_takes_guesses,
    guessing_window_start,
    new_one_time_code,
)
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_with_email
from crm_adapter.sql.mapping import to_customer
from crm_adapter.sql.models import OneTimeCodeRow, OrderRow, VerificationFailureRow
from crm_adapter.validation import normalize_email, normalize_order_number

log = logging.getLogger(__name__)


class Proofs:
    """Verification by order and by one-time code: the proving part of `SqlCrmService`.

    Codes are stored as an HMAC keyed with `secret`, never as sent.
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
        with unit_of_work(self._sessions) as s:
            row = customer_with_email(s, address)
            if row is None:
                raise VerificationFailed()
            if self._guessing_stopped(s, row.id):
                raise VerificationFailed()
            order = s.scalar(select(OrderRow.id).where(OrderRow.customer_id == row.id, OrderRow.order_number == number))
            matched = order is not None
            if not matched:
                self._failed_proof(s, row.id, "order")
            customer = to_customer(row)
        if not matched:  # raised after the unit of work, so the failure is committed
            raise VerificationFailed()
        return customer

    def send_one_time_code(self, email: str) -> None:
        try:
            address = normalize_email(email)
        except InvalidInput:
            return
        with unit_of_work(self._sessions) as s:
            row = customer_with_email(s, address)
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
            customer = to_customer(row)
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
