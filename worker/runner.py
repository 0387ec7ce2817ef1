"""The worker process (`ingest` command): follows Rasa's event log into the relationship history and, each time
it has caught up, runs the housekeeping jobs that are due (worker/jobs.py)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from crm_adapter.settings import Settings
from history.ingest import HistoryIngestion, StepResult, source_from_settings
from history.sources import SourceUnavailable
from worker.jobs import Housekeeping, Job

log = logging.getLogger("history")


class Worker:
    def __init__(self, ingestion: HistoryIngestion, jobs: list[Job]) -> None:
        self.ingestion = ingestion
        close_idle = Job("close_idle_conversations", ingestion.close_idle_conversations)
        self.housekeeping = Housekeeping([close_idle, *jobs])

    def catch_up(self, max_steps: int = 1_000_000) -> StepResult:
        """Ingests until the source has nothing more, then runs every job once (tests and `ingest --once`)."""
        total = self.ingestion.catch_up(max_steps)
        for name in self.housekeeping.jobs:
            self.housekeeping.run_job(name)
        return total

    def run(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Follows the log until `stop` is set, retrying with backoff while the CRM or the log is down."""
        delay = poll
        ingested = messages = 0
        last_report = time.monotonic()
        while not stop.is_set():
            try:
                step = self.ingestion.step()
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
                ran = self.housekeeping.run_due()
                if "value_refresh" in ran:
                    log.info(
                        "history: value tiers refreshed for %s customers, %s days summarised",
                        ran["value_refresh"],
                        ran.get("analytics_summaries"),
                    )
                stop.wait(poll)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300]


def build(settings: Settings, source_kind: str | None = None, batch_size: int = 500) -> Worker:
    import os

    from crm_adapter.sql.db import make_engine, make_session_factory
    from handoff.helpdesk import HelpdeskSettings
    from history.tracker_events import TrackerEvents
    from worker.jobs import standard_jobs

    sessions = make_session_factory(make_engine(settings.database_url))

    def clock() -> datetime:
        return datetime.utcnow()

    source = source_from_settings(settings, source_kind)
    ingestion = HistoryIngestion(sessions, source, batch_size=batch_size, idle=settings.history_idle, clock=clock)
    jobs = standard_jobs(
        sessions,
        clock,
        tracker=TrackerEvents(settings.tracker_db_url),
        value_refresh=timedelta(minutes=float(os.environ.get("VALUE_REFRESH_MINUTES", "60"))),
        helpdesk_settings=HelpdeskSettings.from_env(),
    )
    return Worker(ingestion, jobs)


def main(settings: Settings, once: bool = False, source_kind: str | None = None, batch_size: int = 500) -> int:
    from shared import log_redaction

    log_redaction.install()  # emails and phone numbers masked in every log line (shared/log_redaction.py)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = build(settings, source_kind, batch_size)
    source = worker.ingestion.source
    try:
        if once:
            total = worker.catch_up()
            print(f"history: {total.events} events, {total.messages} messages, {total.skipped} skipped ({source.name})")
            return 0
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        log.info("history: following %s", source.name)
        worker.run(stop)
        return 0
    finally:
        source.close()
