"""Consent enforcement and erasure across every store: the CRM, the relationship history and
Rasa's tracker store.

- A customer who refuses the *history* purpose keeps minimal, de-identified records only:
  their conversations lose message text and slot values at once, ended conversations lose
  the link to the customer and the real sender id, and a `redact` job removes the text
  from Rasa's tracker store (sessions that have ended; the current one when it ends).
- Erasure removes the customer from the CRM at once, and files an `erase` job that
  history ingestion carries out once it has read the event log past the request: it
  deletes whatever the last events added (conversations, tickets, feedback of the
  customer's sender ids) and the senders' events in the tracker store. After it, nothing
  names the customer: the job keeps only a keyed hash and the counts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from audit.log import forget_customer as forget_in_audit_log
from crm_adapter.domain import ErasureReceipt
from crm_adapter.sql.models import ChannelIdentityRow, CustomerRow, TicketRow
from handoff.rows import HandoffRow
from history.projector import forget_content
from history.rows import ConversationRow
from history.tracker_events import TrackerEvents
from knowledge.store import forget_questions
from relationship.rows import FeedbackRow, PrivacyJobRow

log = logging.getLogger(__name__)

JOB_SETTLE = timedelta(seconds=5)  # Rasa saves a turn's events right after the action that asked returns


def subject_hash(customer_id: str, secret: bytes = b"") -> str:
    return hmac.new(secret or b"hearth", customer_id.encode(), hashlib.sha256).hexdigest()


DEIDENTIFIED = "deidentified-"  # the sender id of a conversation no longer linked to anyone


def sender_ids_of(s: Session, customer_id: str) -> list[str]:
    """Every sender id the customer has talked to us from: linked channel accounts and their conversations."""
    senders = set(s.scalars(select(ChannelIdentityRow.sender_id).where(ChannelIdentityRow.customer_id == customer_id)))
    senders.update(s.scalars(select(ConversationRow.sender_id).where(ConversationRow.customer_id == customer_id)))
    return sorted(x for x in senders if not x.startswith(DEIDENTIFIED))


def deidentify(s: Session, conv: ConversationRow, now: datetime | None = None) -> None:
    """An ended conversation of a customer who does not want to be remembered: content gone, link gone,
    and the tracker store's copy queued for redaction."""
    customer_id, sender = conv.customer_id, conv.sender_id
    s.flush()
    forget_content(s, [conv.id])
    if customer_id is not None and not sender.startswith(DEIDENTIFIED):
        s.add(
            PrivacyJobRow(
                kind="redact",
                status="pending",
                customer_id=customer_id,
                sender_ids=[sender],
                up_to=conv.ended_at or conv.last_event_at,
                subject_hash=subject_hash(customer_id),
                requested_at=now or conv.ended_at or conv.last_event_at or datetime.utcnow(),
            )
        )
    conv.customer_id = None
    conv.sender_id = f"{DEIDENTIFIED}{conv.id}"


def forget_history(s: Session, customer_id: str, now: datetime) -> int:
    """Applies a refusal of the history purpose to what is already kept. Returns the messages cleared."""
    senders = sender_ids_of(s, customer_id)
    conversations = list(s.scalars(select(ConversationRow).where(ConversationRow.customer_id == customer_id)))
    cleared = forget_content(s, [c.id for c in conversations])
    forget_questions(s, customer_id)  # what they asked the help centre: kept as counts, without the words
    for conv in conversations:
        if conv.ended_at is not None:
            deidentify(s, conv, now)
    if senders:
        # Ended sessions in the tracker store; the current one is redacted when it ends.
        s.add(
            PrivacyJobRow(
                kind="redact",
                status="pending",
                customer_id=customer_id,
                sender_ids=senders,
                up_to=None,
                subject_hash=subject_hash(customer_id),
                requested_at=now,
            )
        )
    return cleared


def erase_customer(
    s: Session,
    customer_id: str,
    current_sender: str | None,
    now: datetime,
    secret: bytes,
    remove_outbox: Callable[[str], int],
) -> ErasureReceipt:
    """Removes the customer from the CRM now and files the job that finishes the erasure."""
    senders = set(sender_ids_of(s, customer_id))
    if current_sender:
        senders.add(current_sender)
    customer = s.get(CustomerRow, customer_id)
    outbox = remove_outbox(customer.email) if customer is not None else 0
    removed = _erase_crm(s, customer_id, sorted(senders))
    hashed = subject_hash(customer_id, secret)
    audited = forget_in_audit_log(s, customer_id, hashed)  # the entries stay, without the customer's id
    job = PrivacyJobRow(
        kind="erase",
        status="pending",
        customer_id=customer_id,
        sender_ids=sorted(senders),
        subject_hash=hashed,
        requested_at=now,
        removed={"crm_rows_at_request": removed, "outbox_emails": outbox, "audit_entries_deidentified": audited},
    )
    s.add(job)
    s.flush()
    return ErasureReceipt(job_id=job.id, sender_ids=len(senders))


def _erase_crm(s: Session, customer_id: str | None, senders: list[str]) -> int:
    """Deletes the customer (with everything that cascades from them) and every row their sender ids left."""
    removed = 0
    by_sender: list[ColumnElement[bool]] = [ConversationRow.sender_id.in_(senders)] if senders else []
    if customer_id is not None:
        by_sender.append(ConversationRow.customer_id == customer_id)
    if by_sender:
        for conv in s.scalars(select(ConversationRow).where(or_(*by_sender))):
            s.delete(conv)  # messages and review rows go with it
            removed += 1
    if senders:
        for model in (TicketRow, FeedbackRow, ChannelIdentityRow, HandoffRow):  # handoffs: packets, notes
            result: Any = s.execute(delete(model).where(model.sender_id.in_(senders)))
            removed += result.rowcount or 0
    if customer_id is not None:
        # orders, returns, tickets, feedback, consents, preferences, identities and codes go with it (ON DELETE
        # CASCADE in the schema); customers they referred keep their account, without the link
        result = s.execute(delete(CustomerRow).where(CustomerRow.id == customer_id))
        removed += result.rowcount or 0
    s.flush()
    return removed


def run_jobs(
    sessions: sessionmaker[Session],
    tracker: TrackerEvents | None,
    now: Callable[[], datetime] = datetime.utcnow,
    settle: timedelta = JOB_SETTLE,
) -> int:
    """Carries out pending privacy jobs requested at least `settle` ago. Called by history ingestion after it
    has caught up, so the events that came before a request are already in the history. Returns jobs done."""
    done = 0
    with sessions() as s:
        ids = list(
            s.scalars(
                select(PrivacyJobRow.id)
                .where(PrivacyJobRow.status == "pending", PrivacyJobRow.requested_at <= now() - settle)
                .order_by(PrivacyJobRow.id)
                .limit(50)
            )
        )
    for job_id in ids:
        with sessions() as s, s.begin():
            job = s.get(PrivacyJobRow, job_id, with_for_update=True)
            if job is None or job.status != "pending":
                continue
            senders = list(job.sender_ids or [])
            removed = dict(job.removed or {})
            if job.kind == "erase":
                removed["crm_rows"] = _erase_crm(s, job.customer_id, senders)
                removed["tracker_events"] = tracker.delete(senders) if tracker is not None else 0
            else:
                removed["tracker_events_redacted"] = tracker.redact(senders, job.up_to) if tracker is not None else 0
            job.status, job.completed_at, job.removed = "done", now(), removed
            job.customer_id, job.sender_ids = None, None
            done += 1
            log.info("privacy: %s job %s done: %s", job.kind, job.id, removed)
    return done
