"""History ingestion: reads Rasa's event log and projects it into the CRM, batch by batch.

Each batch is one CRM transaction holding the projected rows *and* the new checkpoint,
so killing the process at any moment loses nothing and doubles nothing: the next run
starts from the last committed checkpoint. The bot never waits for ingestion; when
ingestion is down the log keeps growing and the next run catches up.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from analytics.service import SqlAnalytics
from crm_adapter.domain import CrmUnavailable
from crm_adapter.settings import Settings
from crm_adapter.sql.models import HistoryCheckpointRow
from handoff import helpdesk
from history.projector import IDLE_CLOSE_BATCH, HistoryProjector, close_idle
from history.sources import Batch, EventSource, RabbitMqSource, SourceUnavailable, TrackerStoreSource
from history.tracker_events import TrackerEvents
from relationship import privacy
from relationship.service import refresh_values

log = logging.getLogger("history")

HELPDESK_PAUSE = 30.0  # seconds without helpdesk deliveries after a round the helpdesk cut short (down or slow)


def utcnow() -> datetime:
    return datetime.utcnow()


@dataclass
class StepResult:
    events: int
    messages: int
    skipped: int
    caught_up: bool


class HistoryIngestion:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        source: EventSource,
        batch_size: int = 500,
        idle: timedelta = timedelta(minutes=60),
        clock: Callable[[], datetime] = utcnow,
        tracker: TrackerEvents | None = None,
        privacy_settle: timedelta = privacy.JOB_SETTLE,
        value_refresh: timedelta = timedelta(minutes=60),
        helpdesk_settings: helpdesk.HelpdeskSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self.source = source
        self.batch_size = batch_size
        self.idle = idle
        self._now = clock
        self.tracker = tracker  # Rasa's tracker store, where privacy jobs also delete and redact
        self.privacy_settle = privacy_settle
        self.value_refresh = value_refresh  # how often customer value tiers are recomputed for analytics
        # handoffs posted to an external helpdesk's webhook, when HELPDESK_WEBHOOK_URL is set
        self.helpdesk = helpdesk_settings if helpdesk_settings is not None and helpdesk_settings.url else None
        self._helpdesk_http = requests.Session() if self.helpdesk is not None else None
        self._helpdesk_paused_until = 0.0

    def step(self) -> StepResult:
        """Reads, projects and commits one batch. A batch that could not be committed (the CRM database went away
        mid-step) is handed back to the source, which reads it again, rather than skipped."""
        batch: Batch | None = None
        try:
            with self._sessions() as s, s.begin():
                checkpoint = self._lock_checkpoint(s)
                batch = self.source.read(checkpoint.position, self.batch_size)
                events = batch.events
                if batch.redelivered and checkpoint.recent_keys:
                    done = set(checkpoint.recent_keys)
                    events = [e for e in events if e.key not in done]
                result = HistoryProjector(s).project(events)
                if batch.events or batch.rejected or batch.position != checkpoint.position:
                    checkpoint.position = batch.position
                    checkpoint.events_ingested += len(events)
                    if batch.token is not None:
                        checkpoint.recent_keys = [e.key for e in batch.events]
        except BaseException:
            if batch is not None:
                self.source.abandoned(batch)
            raise
        self.source.committed(batch)
        skipped = result.skipped + batch.rejected + (len(batch.events) - len(events))
        return StepResult(len(batch.events), result.messages, skipped, batch.caught_up)

    def _lock_checkpoint(self, s: Session) -> HistoryCheckpointRow:
        """The checkpoint row, write-locked (SQLite and PostgreSQL alike) so two runners take turns."""
        touched = s.execute(
            update(HistoryCheckpointRow)
            .where(HistoryCheckpointRow.source == self.source.name)
            .values(updated_at=self._now())
            .execution_options(synchronize_session=False)
        )
        if touched.rowcount == 0:  # type: ignore[attr-defined]
            s.add(
                HistoryCheckpointRow(source=self.source.name, position="0", events_ingested=0, updated_at=self._now())
            )
            s.flush()
        row = s.get(HistoryCheckpointRow, self.source.name, populate_existing=True)
        assert row is not None
        return row

    def close_idle_conversations(self) -> int:
        """Ends every conversation idle past the session expiry, a thousand per transaction."""
        total = 0
        while True:
            with self._sessions() as s, s.begin():
                closed = close_idle(s, self._now(), self.idle)
            total += closed
            if closed < IDLE_CLOSE_BATCH:
                return total

    def run_privacy_jobs(self) -> int:
        """Erasures and redactions requested at least `privacy_settle` ago (relationship/privacy.py); called
        once the log has been read up to now, so nothing said before a request is projected after it."""
        return privacy.run_jobs(self._sessions, self.tracker, self._now, self.privacy_settle)

    def deliver_to_helpdesk(self) -> helpdesk.DeliveryReport | None:
        """Posts the handoffs due to the external helpdesk (handoff/helpdesk.py), when one is configured.
        Never raises: whatever the helpdesk or the CRM does, it is logged and ingestion goes on. A round the
        helpdesk cut short (down or slow) pauses deliveries for HELPDESK_PAUSE seconds."""
        if self.helpdesk is None or time.monotonic() < self._helpdesk_paused_until:
            return None
        try:
            report = helpdesk.deliver_due(self._sessions, self.helpdesk, self._helpdesk_http, self._now())
        except (DBAPIError, CrmUnavailable) as exc:
            log.warning("history: could not send handoffs to the helpdesk: %s", _short(exc))
            return None
        except Exception:  # a bug there must not stop ingestion
            log.exception("history: sending handoffs to the helpdesk failed")
            return None
        if report.interrupted:
            self._helpdesk_paused_until = time.monotonic() + HELPDESK_PAUSE
        return report

    def catch_up(self, max_steps: int = 1_000_000) -> StepResult:
        """Ingests until the source has nothing more (used by tests and `ingest --once`)."""
        total = StepResult(0, 0, 0, False)
        for _ in range(max_steps):
            step = self.step()
            total = StepResult(
                total.events + step.events, total.messages + step.messages, total.skipped + step.skipped, step.caught_up
            )
            if step.caught_up:
                break
        self.close_idle_conversations()
        self.run_privacy_jobs()
        self.deliver_to_helpdesk()
        return total

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Follows the log until `stop` is set, retrying with backoff while the CRM or the log is down."""
        delay = poll
        ingested = messages = 0
        last_report = time.monotonic()
        last_values = time.monotonic()  # the run command refreshes them before it starts
        while not stop.is_set():
            try:
                step = self.step()
            except (SourceUnavailable, OperationalError, IntegrityError) as exc:
                log.warning("history: %s; retrying in %.1f s", _short(exc), delay)
                stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                log.warning("history: CRM connection lost; retrying in %.1f s", delay)
                stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = poll
            ingested += step.events
            messages += step.messages
            if time.monotonic() - last_report > 30 and ingested:
                log.info("history: %d events ingested (%d messages) in the last 30 s", ingested, messages)
                ingested = messages = 0
                last_report = time.monotonic()
            if step.caught_up:
                try:
                    self.close_idle_conversations()
                    self.run_privacy_jobs()
                    self.deliver_to_helpdesk()
                    if time.monotonic() - last_values > self.value_refresh.total_seconds():
                        refreshed = refresh_values(self._sessions)
                        days = SqlAnalytics(self._sessions).refresh_summaries()
                        log.info("history: value tiers refreshed for %d customers, %d days summarised", refreshed, days)
                        last_values = time.monotonic()
                except (OperationalError, DBAPIError, SourceUnavailable, CrmUnavailable) as exc:
                    log.warning("history: could not finish housekeeping: %s", _short(exc))
                stop.wait(poll)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]


def source_from_settings(settings: Settings, kind: str | None = None) -> EventSource:
    kind = (kind or settings.history_source).lower()
    if kind == "rabbitmq":
        if not settings.rabbitmq_url:
            raise ValueError("HISTORY_SOURCE=rabbitmq needs RABBITMQ_URL")
        return RabbitMqSource(settings.rabbitmq_url, settings.history_queue)
    if kind == "tracker":
        return TrackerStoreSource(settings.tracker_db_url)
    raise ValueError(f"HISTORY_SOURCE must be 'tracker' or 'rabbitmq', not {kind!r}")


def main(settings: Settings, once: bool = False, source_kind: str | None = None, batch_size: int = 500) -> int:
    from crm_adapter.sql.db import make_engine, make_session_factory
    from shared import log_redaction

    log_redaction.install()  # emails and phone numbers masked in every log line (shared/log_redaction.py)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    helpdesk_settings = helpdesk.HelpdeskSettings.from_env()
    source = source_from_settings(settings, source_kind)
    sessions = make_session_factory(make_engine(settings.database_url))
    tracker = TrackerEvents(settings.tracker_db_url)
    ingestion = HistoryIngestion(
        sessions,
        source,
        batch_size=batch_size,
        idle=settings.history_idle,
        tracker=tracker,
        value_refresh=timedelta(minutes=float(os.environ.get("VALUE_REFRESH_MINUTES", "60"))),
        helpdesk_settings=helpdesk_settings,
    )
    try:
        if once:
            total = ingestion.catch_up()
            print(f"history: {total.events} events, {total.messages} messages, {total.skipped} skipped ({source.name})")
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        log.info("history: following %s", source.name)
        ingestion.run(stop)
        return 0
    finally:
        source.close()
        tracker.close()
