"""Handoffs posted to an external helpdesk's webhook (HELPDESK_WEBHOOK_URL), through an outbox.

The handoff code calls `enqueue` in the transaction that creates the handoff, so a delivery exists exactly
when the handoff does. History ingestion's housekeeping then calls `deliver_due`, which:

- claims the due rows in one short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`), moving their
  `next_attempt_at` past the time the round can take, so two ingestion processes never send the same row
  at once; no transaction is open while a request is on its way;
- POSTs each one (`Idempotency-Key: hearth-delivery-<id>`, so a receiver can drop a repeat; with
  HELPDESK_WEBHOOK_SECRET, `X-Hearth-Signature: sha256=<HMAC-SHA256 of the exact body>`);
- records each outcome in its own short transaction, touching only rows still `pending`: a 2xx is
  `delivered`; anything else is retried after 2 s, 4 s, 8 s ... (at most 10 minutes), and after
  HELPDESK_MAX_ATTEMPTS attempts the delivery is `failed` until an admin retries it (`retry`);
- stops the round at the first timeout or connection failure, or once it has run for HELPDESK_TIMEOUT
  seconds: the rest goes out next round, so a helpdesk that is down or slow costs ingestion one timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from crm_adapter.sql.db import unavailable_as_crm_error
from handoff.rows import HelpdeskDeliveryRow

log = logging.getLogger("handoff.helpdesk")

STATUSES = ("pending", "delivered", "failed")
EVENT = "handoff.requested"
USER_AGENT = "hearth-helpdesk/1"
SIGNATURE_HEADER = "X-Hearth-Signature"
FIRST_BACKOFF = timedelta(seconds=2)
MAX_BACKOFF = timedelta(minutes=10)
CLAIM_MARGIN = timedelta(seconds=60)  # a claimed row is due again this long after the round's time is up
ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class HelpdeskSettings:
    url: str | None  # None: no external helpdesk
    secret: str | None = None  # signs each body when set
    timeout: float = 5.0  # seconds, for connecting and for each read
    max_attempts: int = 6


@dataclass(frozen=True)
class Delivery:
    id: int
    handoff_id: int
    status: str  # pending | delivered | failed
    attempts: int  # requests made so far
    next_attempt_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    created_at: datetime


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retried: int = 0  # failed this time, tried again later
    failed: int = 0  # failed for the last time
    interrupted: bool = False  # the helpdesk timed out, could not be reached or was slow: the round stopped there


def utcnow() -> datetime:
    return datetime.utcnow()


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 2 s, 4 s, 8 s ... at most 10 minutes."""
    if attempts >= 20:  # 2**20 s is far past the cap
        return MAX_BACKOFF
    return min(FIRST_BACKOFF * 2 ** (max(attempts, 1) - 1), MAX_BACKOFF)


def enqueue(session: Session, handoff_id: int, payload: dict[str, Any], now: datetime) -> HelpdeskDeliveryRow:
    """Queues the handoff's packet for the helpdesk, in the caller's transaction (committed or rolled back with
    the handoff). The caller decides whether a webhook is configured."""
    row = HelpdeskDeliveryRow(
        handoff_id=handoff_id,
        payload=payload,
        status="pending",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    return row


@dataclass(frozen=True)
class _Claimed:
    id: int
    handoff_id: int
    payload: dict[str, Any]
    attempts: int


def deliver_due(
    sessions: sessionmaker[Session],
    settings: HelpdeskSettings,
    http: requests.Session | None = None,
    now: datetime | None = None,
    limit: int = 20,
) -> DeliveryReport:
    """Sends up to `limit` due deliveries, oldest first, and records each outcome (see the module's doc).
    Database errors propagate; the helpdesk's own failures never do."""
    if settings.url is None:
        raise ValueError("deliver_due needs HelpdeskSettings with a url")
    at = now or utcnow()
    budget = settings.timeout  # no new request starts after this many seconds
    claimed = _claim(sessions, at, limit, at + timedelta(seconds=budget + 2 * settings.timeout) + CLAIM_MARGIN)
    if not claimed:
        return DeliveryReport()
    started = time.monotonic()
    delivered = retried = failed = 0
    unsent: list[_Claimed] = []
    interrupted = False
    own_http = http is None
    client = requests.Session() if http is None else http
    try:
        for i, row in enumerate(claimed):
            if time.monotonic() - started > budget:
                unsent, interrupted = claimed[i:], True
                break
            error, down = _post(client, settings, row)
            when = now or utcnow()
            if error is None:
                _record_success(sessions, row, when)
                delivered += 1
            else:
                final = _record_failure(sessions, settings, row, error, when)
                failed += final is True
                retried += final is False
            if down:
                unsent, interrupted = claimed[i + 1 :], True
                break
    finally:
        if own_http:
            client.close()
    if unsent:
        _release(sessions, unsent, now or utcnow())
    return DeliveryReport(delivered, retried, failed, interrupted)


def _claim(sessions: sessionmaker[Session], now: datetime, limit: int, until: datetime) -> list[_Claimed]:
    """Takes the due rows for this round: their next_attempt_at moves to `until`, so no other process takes
    them meanwhile (one UPDATE: on PostgreSQL locked rows are skipped; SQLite runs writers one at a time)."""
    R = HelpdeskDeliveryRow
    due = (
        select(R.id)
        .where(R.status == "pending", R.next_attempt_at <= now)
        .order_by(R.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    with sessions() as s, s.begin():
        rows = s.execute(
            update(R)
            .where(R.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=until)
            .returning(R.id, R.handoff_id, R.payload, R.attempts)
            .execution_options(synchronize_session=False)
        ).all()
    return sorted((_Claimed(r.id, r.handoff_id, r.payload, r.attempts) for r in rows), key=lambda c: c.id)


def _post(http: requests.Session, settings: HelpdeskSettings, row: _Claimed) -> tuple[str | None, bool]:
    """One POST. Returns (None, False) on a 2xx, else (a short description, whether the helpdesk looks down)."""
    assert settings.url is not None
    envelope = {"event": EVENT, "delivery_id": row.id, "handoff_id": row.handoff_id, "handoff": row.payload}
    body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Idempotency-Key": f"hearth-delivery-{row.id}",
    }
    if settings.secret:
        digest = hmac.new(settings.secret.encode(), body, hashlib.sha256).hexdigest()
        headers[SIGNATURE_HEADER] = f"sha256={digest}"
    try:
        with http.post(
            settings.url,
            data=body,
            headers=headers,
            timeout=settings.timeout,
            allow_redirects=False,  # a redirect would turn the POST into a GET
            stream=True,  # only the start of an error's body is read
        ) as response:
            if 200 <= response.status_code < 300:
                return None, False
            start = _body_start(response)
            return (f"HTTP {response.status_code}: {start}" if start else f"HTTP {response.status_code}"), False
    except requests.Timeout:  # before ConnectionError: ConnectTimeout is both
        return f"timeout after {settings.timeout:g} s", True
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema) as e:
        return f"invalid URL: {_first_line(e)}", True
    except requests.ConnectionError as exc:
        return _connection_error(exc, settings.url), True
    except (requests.RequestException, ValueError) as exc:
        return f"request failed: {_first_line(exc)}", True


def _body_start(response: requests.Response) -> str:
    try:
        chunk = next(response.iter_content(ERROR_BODY_CHARS * 4), b"")
    except (requests.RequestException, OSError):
        return ""
    text = chunk.decode("utf-8", errors="replace") if isinstance(chunk, bytes) else str(chunk)
    return " ".join(text.split())[:ERROR_BODY_CHARS]


def _connection_error(exc: BaseException, url: str) -> str:
    """'connection refused: host:port', 'host not found: host', or 'connection failed: <the root cause>'."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    where = f"{host}:{parts.port or (443 if parts.scheme.lower() == 'https' else 80)}"
    cause: BaseException = exc
    seen: set[int] = set()
    while id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused: {where}"
        if isinstance(cause, socket.gaierror):
            return f"host not found: {parts.hostname}"
        nested = [cause.__cause__, getattr(cause, "reason", None), *cause.args[:1], cause.__context__]
        following = next((n for n in nested if isinstance(n, BaseException)), None)
        if following is None:
            break
        cause = following
    return f"connection failed: {where}: {_first_line(cause)}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _record_success(sessions: sessionmaker[Session], row: _Claimed, now: datetime) -> None:
    R = HelpdeskDeliveryRow
    with sessions() as s, s.begin():
        done = s.execute(
            update(R)
            .where(R.id == row.id, R.status == "pending")
            .values(status="delivered", delivered_at=now, attempts=R.attempts + 1, last_error=None)
            .execution_options(synchronize_session=False)
        )
    if done.rowcount == 1:  # type: ignore[attr-defined]
        log.info("helpdesk: handoff %d delivered (delivery %d)", row.handoff_id, row.id)


def _record_failure(
    sessions: sessionmaker[Session], settings: HelpdeskSettings, row: _Claimed, error: str, now: datetime
) -> bool | None:
    """Counts the failed attempt: True when it was the last one (the delivery is now `failed`), False when it
    will be tried again, None when another process had already recorded an outcome for it."""
    R = HelpdeskDeliveryRow
    attempts = row.attempts + 1
    final = attempts >= settings.max_attempts
    with sessions() as s, s.begin():
        changed = s.execute(
            update(R)
            # still pending and not counted by another process meanwhile
            .where(R.id == row.id, R.status == "pending", R.attempts == row.attempts)
            .values(
                status="failed" if final else "pending",
                attempts=attempts,
                last_error=error,
                next_attempt_at=now if final else now + backoff(attempts),
            )
            .execution_options(synchronize_session=False)
        )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    if final:
        log.error(
            "helpdesk: handoff %d was not delivered (delivery %d, %d attempts); last error: %s",
            row.handoff_id,
            row.id,
            attempts,
            error,
        )
    else:
        log.warning(
            "helpdesk: handoff %d not delivered yet (delivery %d, attempt %d of %d), next try in %d s: %s",
            row.handoff_id,
            row.id,
            attempts,
            settings.max_attempts,
            backoff(attempts).total_seconds(),
            error,
        )
    return final


def _release(sessions: sessionmaker[Session], rows: list[_Claimed], now: datetime) -> None:
    """Claimed rows the round did not get to are due again at once (for the next round)."""
    R = HelpdeskDeliveryRow
    with sessions() as s, s.begin():
        s.execute(
            update(R)
            .where(R.id.in_([r.id for r in rows]), R.status == "pending")
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )


def retry(sessions: sessionmaker[Session], delivery_id: int, now: datetime) -> Delivery:
    """A `failed` delivery goes out again: pending, due now, attempts counted afresh (the last error stays
    until the next attempt). A pending one is left as it is; a delivered one is NotAllowed."""
    with unavailable_as_crm_error(), sessions() as s, s.begin():
        row = s.get(HelpdeskDeliveryRow, delivery_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no helpdesk delivery {delivery_id}")
        if row.status == "delivered":
            raise NotAllowed("already_delivered", f"helpdesk delivery {delivery_id} was already delivered")
        if row.status == "failed":
            row.status, row.attempts, row.next_attempt_at = "pending", 0, now
            log.info("helpdesk: delivery %d of handoff %d queued again", row.id, row.handoff_id)
        return _delivery(row)


def deliveries(sessions: sessionmaker[Session], status: str | None = None, limit: int = 50) -> list[Delivery]:
    """The latest deliveries, newest first; only those with `status` when given."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    R = HelpdeskDeliveryRow
    query = select(R).order_by(R.created_at.desc(), R.id.desc()).limit(limit)
    if status is not None:
        query = query.where(R.status == status)
    with unavailable_as_crm_error(), sessions() as s:
        return [_delivery(row) for row in s.scalars(query)]


def _delivery(row: HelpdeskDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        handoff_id=row.handoff_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        created_at=row.created_at,
    )
