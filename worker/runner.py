"""The worker process (`ingest` command): follows Rasa's event log into the relationship history and, each time
it has caught up, runs the housekeeping jobs that are due (worker/jobs.py)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from hearth.container import Container
from hearth.settings import Settings
from history.ingest import HistoryIngestion, StepResult
from history.sources import EventSource, RabbitMqSource, SourceUnavailable, TrackerStoreSource
from worker.jobs import Housekeeping, Job, standard_jobs

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


def source_from_settings(settings: Settings, kind: str | None = None) -> EventSource:
    """Where the events come from: Rasa's tracker store (one machine) or its RabbitMQ event broker."""
    kind = (kind or settings.history_source).lower()
    if kind == "rabbitmq":
        if not settings.rabbitmq_url:
            raise ValueError("HISTORY_SOURCE=rabbitmq needs RABBITMQ_URL")
        return RabbitMqSource(settings.rabbitmq_url, settings.history_queue)
    if kind == "tracker":
        return TrackerStoreSource(settings.tracker_db_url)
    raise ValueError(f"HISTORY_SOURCE must be 'tracker' or 'rabbitmq', not {kind!r}")


def build(box: Container, source_kind: str | None = None, batch_size: int = 500) -> Worker:
    """The worker of this process: ingestion from the configured source and the standard jobs."""
    settings = box.settings

    def clock() -> datetime:
        return datetime.utcnow()

    source = source_from_settings(settings, source_kind)
    ingestion = HistoryIngestion(box.sessions, source, batch_size=batch_size, idle=settings.history_idle, clock=clock)
    jobs = standard_jobs(
        box.sessions,
        clock,
        tracker=box.tracker,
        value_refresh=settings.value_refresh,
        helpdesk_settings=box.helpdesk,
        deliver_codes=box.code_delivery,
        assign=box.assign_waiting,
    )
    return Worker(ingestion, jobs)


def main(box: Container, once: bool = False, source_kind: str | None = None, batch_size: int = 500) -> int:
    from shared import log_redaction

    log_redaction.install()  # emails and phone numbers masked in every log line (shared/log_redaction.py)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = build(box, source_kind, batch_size)
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
