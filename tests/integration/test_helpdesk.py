"""Handoffs posted to an external helpdesk's webhook through the outbox, on real SQLite and PostgreSQL databases
and a real local HTTP server whose answers each test scripts."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update

from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from handoff.helpdesk import (
    DeliveryReport,
    HelpdeskSettings,
    backoff,
    deliver_due,
    deliveries,
    enqueue,
    retry,
)
from handoff.rows import HandoffRow, HelpdeskDeliveryRow
from history.ingest import HistoryIngestion
from history.sources import TrackerStoreSource
from tests.conftest import SqlCrm
from tests.factories import NOW, Clock
from worker.jobs import standard_jobs
from worker.runner import Worker

pytestmark = pytest.mark.integration

SECRET = "s3cret-for-tests"
PACKET = {
    "handoff_id": 0,  # replaced by the real id
    "customer": {"name": "Greta Lindqvist", "tier": "vip"},
    "reason": "asked",
    "summary": "Parcel lost twice — wants a person",
    "sentiment": -0.62,
}


# ---- a scripted webhook receiver ------------------------------------------------------------------------


@dataclass
class Answer:
    """What the receiver does with one request: optionally wait (seconds, or until an event is set), run a
    hook, then answer with `status` and `body`."""

    status: int = 200
    body: str = '{"ok": true}'
    wait: float | threading.Event | None = None
    hook: Callable[[], None] | None = None


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    answers: list[Answer] = field(default_factory=list)  # used in order; 200 once they run out
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)  # set at each request

    def script(self, *answers: Answer) -> None:
        self.answers[:] = answers


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    release = threading.Event()  # ends every wait when the test is over
    lock = threading.Lock()
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            rec = box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                rec.received.append(Received(self.path, dict(self.headers.items()), body))
                answer = rec.answers.pop(0) if rec.answers else Answer()
            rec.arrived.set()
            if isinstance(answer.wait, threading.Event):
                answer.wait.wait(10)
            elif answer.wait:
                release.wait(answer.wait)
            if answer.hook is not None:
                answer.hook()
            payload = answer.body.encode()
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client gave up waiting
                pass

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks/hearth"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield box[0]
    release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def free_port() -> int:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- helpers ----------------------------------------------------------------------------------------------


def settings(url: str, **overrides: Any) -> HelpdeskSettings:
    values: dict[str, Any] = {"secret": SECRET, "timeout": 2.0, "max_attempts": 6, **overrides}
    return HelpdeskSettings(url, **values)


def add_handoff(s: Any, now: datetime = NOW) -> HandoffRow:
    row = HandoffRow(
        sender_id="web-greta",
        channel="web",
        customer_id=None,
        reason="asked",
        status="waiting",
        tier="vip",
        tier_rank=3,
        requested_at=now,
        packet={"summary": PACKET["summary"]},
        tags=[],
    )
    s.add(row)
    s.flush()
    return row


def handoff_with_delivery(crm: SqlCrm, now: datetime | None = None) -> tuple[int, int, dict[str, Any]]:
    """A handoff and its queued delivery, committed together as the handoff code does: (handoff, delivery, payload)."""
    with crm.sessions() as s, s.begin():
        handoff = add_handoff(s, now or crm.clock())
        payload = {**PACKET, "handoff_id": handoff.id}
        delivery = enqueue(s, handoff.id, payload, now or crm.clock())
        s.flush()
        return handoff.id, delivery.id, payload


def row(crm: SqlCrm, delivery_id: int) -> HelpdeskDeliveryRow:
    with crm.sessions() as s:
        found = s.get(HelpdeskDeliveryRow, delivery_id)
        assert found is not None
        return found


def deliver(crm: SqlCrm, config: HelpdeskSettings, **kwargs: Any) -> DeliveryReport:
    return deliver_due(crm.sessions, config, now=crm.clock(), **kwargs)


# ---- delivery ----------------------------------------------------------------------------------------------


def test_delivered_on_the_first_try_signed_with_an_idempotency_key(sql_crm: SqlCrm, receiver: Receiver) -> None:
    handoff_id, delivery_id, payload = handoff_with_delivery(sql_crm)

    with requests.Session() as http:
        report = deliver_due(sql_crm.sessions, settings(receiver.url), http, now=sql_crm.clock())

    assert report == DeliveryReport(delivered=1)
    [request] = receiver.received
    assert request.path == "/hooks/hearth"
    assert request.json == {
        "event": "handoff.requested",
        "delivery_id": delivery_id,
        "handoff_id": handoff_id,
        "handoff": payload,
    }
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "hearth-helpdesk/1"
    assert request.headers["Idempotency-Key"] == f"hearth-delivery-{delivery_id}"
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Hearth-Signature"] == f"sha256={expected}"
    assert not hmac.compare_digest(  # the signature covers the exact body
        request.headers["X-Hearth-Signature"],
        "sha256=" + hmac.new(SECRET.encode(), request.body + b" ", hashlib.sha256).hexdigest(),
    )
    done = row(sql_crm, delivery_id)
    assert (done.status, done.attempts, done.delivered_at, done.last_error) == ("delivered", 1, NOW, None)

    sql_crm.clock.advance(hours=1)
    assert deliver(sql_crm, settings(receiver.url)) == DeliveryReport()  # never sent twice
    assert len(receiver.received) == 1


def test_no_signature_without_a_secret(sql_crm: SqlCrm, receiver: Receiver) -> None:
    handoff_with_delivery(sql_crm)
    assert deliver(sql_crm, settings(receiver.url, secret=None)).delivered == 1
    assert "X-Hearth-Signature" not in receiver.received[0].headers


def test_two_failures_then_success_follow_the_backoff(sql_crm: SqlCrm, receiver: Receiver) -> None:
    receiver.script(
        Answer(500, "boom"),
        Answer(503, "<html>  Service\n  unavailable " + "x" * 500 + "</html>"),
        Answer(201, ""),
    )
    _, delivery_id, _ = handoff_with_delivery(sql_crm)
    config = settings(receiver.url)

    assert deliver(sql_crm, config) == DeliveryReport(retried=1)
    first = row(sql_crm, delivery_id)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500: boom")
    assert first.next_attempt_at == NOW + timedelta(seconds=2)

    sql_crm.clock.advance(seconds=1.9)
    assert deliver(sql_crm, config) == DeliveryReport()  # not due yet: nothing sent
    assert len(receiver.received) == 1

    sql_crm.clock.advance(seconds=0.1)
    assert deliver(sql_crm, config) == DeliveryReport(retried=1)
    second = row(sql_crm, delivery_id)
    assert second.attempts == 2
    assert second.last_error == "HTTP 503: " + ("<html> Service unavailable " + "x" * 500)[:200]
    assert second.next_attempt_at == NOW + timedelta(seconds=2 + 4)

    sql_crm.clock.advance(seconds=3.9)
    assert deliver(sql_crm, config) == DeliveryReport()
    sql_crm.clock.advance(seconds=0.1)
    assert deliver(sql_crm, config) == DeliveryReport(delivered=1)
    done = row(sql_crm, delivery_id)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 3, None)
    assert done.delivered_at == NOW + timedelta(seconds=6)
    # the same body and key each time, so the receiver can drop a repeat
    assert len({r.body for r in receiver.received}) == 1
    assert {r.headers["Idempotency-Key"] for r in receiver.received} == {f"hearth-delivery-{delivery_id}"}


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 12)] == [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    assert backoff(1000) == timedelta(minutes=10)


def test_a_timeout_is_a_failure_and_ends_the_round(sql_crm: SqlCrm, receiver: Receiver) -> None:
    receiver.script(Answer(200, wait=5.0))  # answers long after the client gave up
    _, first_id, _ = handoff_with_delivery(sql_crm)
    _, second_id, _ = handoff_with_delivery(sql_crm)

    started = time.monotonic()
    report = deliver(sql_crm, settings(receiver.url, timeout=0.5))
    elapsed = time.monotonic() - started

    assert 0.45 <= elapsed < 1.5
    assert report == DeliveryReport(retried=1, interrupted=True)
    timed_out = row(sql_crm, first_id)
    assert (timed_out.status, timed_out.attempts, timed_out.last_error) == ("pending", 1, "timeout after 0.5 s")
    assert timed_out.next_attempt_at == NOW + timedelta(seconds=2)
    # the helpdesk looks down: the other delivery was not tried, and is due for the next round
    untried = row(sql_crm, second_id)
    assert (untried.status, untried.attempts, untried.next_attempt_at) == ("pending", 0, NOW)
    assert len(receiver.received) == 1


def test_connection_refused_is_a_failure_with_a_clear_error(sql_crm: SqlCrm) -> None:
    port = free_port()
    _, delivery_id, _ = handoff_with_delivery(sql_crm)

    report = deliver(sql_crm, settings(f"http://127.0.0.1:{port}/hooks"))

    assert report == DeliveryReport(retried=1, interrupted=True)
    failed = row(sql_crm, delivery_id)
    assert (failed.attempts, failed.last_error) == (1, f"connection refused: 127.0.0.1:{port}")


def test_after_max_attempts_it_is_failed_until_retried(
    sql_crm: SqlCrm, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.script(Answer(500, "down"), Answer(502, "bad gateway"), Answer(500, "still down"), Answer(200))
    handoff_id, delivery_id, _ = handoff_with_delivery(sql_crm)
    config = settings(receiver.url, max_attempts=3)

    with caplog.at_level(logging.WARNING, logger="handoff.helpdesk"):
        assert deliver(sql_crm, config) == DeliveryReport(retried=1)
        sql_crm.clock.advance(seconds=2)
        assert deliver(sql_crm, config) == DeliveryReport(retried=1)
        sql_crm.clock.advance(seconds=4)
        assert deliver(sql_crm, config) == DeliveryReport(failed=1)

    failed = row(sql_crm, delivery_id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 3, "HTTP 500: still down")
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"handoff {handoff_id}" in error.getMessage() and "HTTP 500: still down" in error.getMessage()

    sql_crm.clock.advance(hours=2)
    assert deliver(sql_crm, config) == DeliveryReport()  # failed: not sent again
    assert len(receiver.received) == 3
    assert [d.status for d in deliveries(sql_crm.sessions, status="failed")] == ["failed"]

    again = retry(sql_crm.sessions, delivery_id, sql_crm.clock())
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, sql_crm.clock())
    assert deliver(sql_crm, config) == DeliveryReport(delivered=1)
    assert len(receiver.received) == 4
    assert row(sql_crm, delivery_id).status == "delivered"
    with pytest.raises(NotAllowed):
        retry(sql_crm.sessions, delivery_id, sql_crm.clock())


def test_retry_of_an_unknown_delivery_is_not_found(sql_crm: SqlCrm) -> None:
    with pytest.raises(NotFound):
        retry(sql_crm.sessions, 987654, sql_crm.clock())


def test_an_invalid_url_is_a_failure_not_a_crash(sql_crm: SqlCrm) -> None:
    _, delivery_id, _ = handoff_with_delivery(sql_crm)
    report = deliver(sql_crm, HelpdeskSettings("http://bad host.example/hook", timeout=0.5))
    assert report == DeliveryReport(retried=1, interrupted=True)
    assert row(sql_crm, delivery_id).last_error == (
        "invalid URL: Failed to parse: Host 'bad host.example' contains invalid character ' '"
    )


# ---- two senders, and outcomes recorded meanwhile -----------------------------------------------------------


def test_two_processes_never_send_the_same_delivery_at_once(sql_crm: SqlCrm, receiver: Receiver) -> None:
    hold = threading.Event()
    receiver.script(Answer(200, wait=hold))
    _, delivery_id, _ = handoff_with_delivery(sql_crm)
    config = settings(receiver.url)
    reports: list[DeliveryReport] = []

    first = threading.Thread(target=lambda: reports.append(deliver(sql_crm, config)))
    first.start()
    assert receiver.arrived.wait(5)
    try:
        assert deliver(sql_crm, config) == DeliveryReport()  # the other process finds nothing due
    finally:
        hold.set()
        first.join(10)

    assert reports == [DeliveryReport(delivered=1)]
    assert len(receiver.received) == 1
    assert row(sql_crm, delivery_id).status == "delivered"


def test_an_outcome_recorded_meanwhile_is_not_overwritten(sql_crm: SqlCrm, receiver: Receiver) -> None:
    _, delivery_id, _ = handoff_with_delivery(sql_crm)

    def delivered_by_another_process() -> None:
        with sql_crm.sessions.begin() as s:
            s.execute(
                update(HelpdeskDeliveryRow)
                .where(HelpdeskDeliveryRow.id == delivery_id)
                .values(status="delivered", delivered_at=NOW, attempts=1)
            )

    receiver.script(Answer(500, "late failure", hook=delivered_by_another_process))
    assert deliver(sql_crm, settings(receiver.url)) == DeliveryReport()  # its failure was not recorded
    kept = row(sql_crm, delivery_id)
    assert (kept.status, kept.attempts, kept.last_error) == ("delivered", 1, None)


# ---- the outbox -------------------------------------------------------------------------------------------


def test_enqueue_is_part_of_the_handoffs_transaction(sql_crm: SqlCrm) -> None:
    with sql_crm.sessions() as s:
        with pytest.raises(RuntimeError), s.begin():
            handoff = add_handoff(s)
            enqueue(s, handoff.id, {**PACKET, "handoff_id": handoff.id}, NOW)
            s.flush()
            raise RuntimeError("the handoff failed after the delivery was queued")
    with sql_crm.sessions() as s:
        assert s.scalar(select(func.count()).select_from(HelpdeskDeliveryRow)) == 0
        assert s.scalar(select(func.count()).select_from(HandoffRow)) == 0

    handoff_id, delivery_id, payload = handoff_with_delivery(sql_crm)
    queued = row(sql_crm, delivery_id)
    assert (queued.handoff_id, queued.payload, queued.status, queued.attempts) == (handoff_id, payload, "pending", 0)
    assert queued.next_attempt_at == queued.created_at == NOW


def test_deliveries_lists_the_newest_first(sql_crm: SqlCrm, receiver: Receiver) -> None:
    receiver.script(Answer(200), Answer(500, "nope"))
    ids = []
    for minutes in range(3):
        ids.append(handoff_with_delivery(sql_crm, NOW + timedelta(minutes=minutes))[1])
    sql_crm.clock.advance(minutes=5)
    deliver(sql_crm, settings(receiver.url, max_attempts=1))  # the first delivered, the second failed

    listed = deliveries(sql_crm.sessions)
    assert [d.id for d in listed] == ids[::-1]
    assert [d.status for d in listed] == ["delivered", "failed", "delivered"]  # the third: the default 200
    assert [d.id for d in deliveries(sql_crm.sessions, status="failed")] == [ids[1]]
    assert [d.id for d in deliveries(sql_crm.sessions, limit=1)] == [ids[2]]
    assert listed[1].last_error == "HTTP 500: nope" and listed[1].delivered_at is None
    with pytest.raises(InvalidInput):
        deliveries(sql_crm.sessions, status="lost")


# ---- history ingestion's housekeeping ------------------------------------------------------------------------


def ingestion(crm: SqlCrm, tracker_url: str, config: HelpdeskSettings | None) -> Worker:
    """History ingestion with the worker's jobs, the helpdesk delivery among them when a webhook is configured."""
    clock = Clock(NOW)
    ingestion = HistoryIngestion(crm.sessions, TrackerStoreSource(tracker_url), clock=clock)
    return Worker(ingestion, standard_jobs(crm.sessions, clock, helpdesk_settings=config))


def test_ingestion_housekeeping_sends_what_is_due(sql_crm: SqlCrm, receiver: Receiver, tracker_url: str) -> None:
    _, delivery_id, _ = handoff_with_delivery(sql_crm)
    ingestion(sql_crm, tracker_url, HelpdeskSettings(None)).catch_up()  # no webhook: nothing sent
    assert receiver.received == [] and row(sql_crm, delivery_id).status == "pending"

    ingestion(sql_crm, tracker_url, settings(receiver.url)).catch_up()
    assert len(receiver.received) == 1 and row(sql_crm, delivery_id).status == "delivered"


def test_a_helpdesk_that_is_down_does_not_stop_ingestion(sql_crm: SqlCrm, receiver: Receiver, tracker_url: str) -> None:
    receiver.script(Answer(200, wait=5.0))
    handoff_with_delivery(sql_crm)
    runner = ingestion(sql_crm, tracker_url, settings(receiver.url, timeout=0.3))

    started = time.monotonic()
    runner.catch_up()
    assert time.monotonic() - started < 1.5
    assert runner.housekeeping.run_job("helpdesk_delivery") is None  # paused after a round the helpdesk cut short
    assert len(receiver.received) == 1
