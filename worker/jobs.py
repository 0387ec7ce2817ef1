"""Named housekeeping jobs. Each belongs to its capability and runs when due; one that fails is logged and the
others still run.

| job | capability | when |
| --- | --- | --- |
| `close_idle_conversations` | history: ends conversations idle past the session expiry | every round |
| `privacy_jobs` | relationship: erasures and redactions requested a moment ago | every round |
| `code_delivery` | CRM core: the one-time codes asked for a moment ago, made and emailed | every round |
| `helpdesk_delivery` | handoff: handoffs posted to an external helpdesk's webhook | every round, when configured |
| `auto_assign` | handoff: waiting conversations to online agents with room, in turn | every round, if on |
| `value_refresh` | relationship: every customer's value score and tier | every `VALUE_REFRESH_MINUTES` |
| `analytics_summaries` | analytics: the daily summaries of closed days | with `value_refresh` |

A round is run each time ingestion has read the log up to now, so nothing said before a privacy request is
projected after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from analytics.service import SqlAnalytics
from crm_adapter.domain import CrmUnavailable
from handoff import helpdesk
from history.tracker_events import TrackerEvents
from relationship import privacy
from relationship.value_store import refresh_values

log = logging.getLogger("worker")

HELPDESK_PAUSE = 30.0  # seconds without helpdesk deliveries after a round the helpdesk cut short (down or slow)
CODE_DELIVERY_PAUSE = 10.0  # seconds without code deliveries after the mail server failed


@dataclass
class Job:
    name: str
    run: Callable[[], object]
    every: float = 0.0  # seconds between runs; 0: every round
    last_run: float | None = None

    def due(self, now: float) -> bool:
        return self.last_run is None or now - self.last_run >= self.every


class Housekeeping:
    """Runs the jobs that are due, each on its own: one job's failure is logged and does not stop the others."""

    def __init__(self, jobs: Iterable[Job], monotonic: Callable[[], float] = time.monotonic) -> None:
        self.jobs = {job.name: job for job in jobs}
        self._monotonic = monotonic

    def run_due(self) -> dict[str, object]:
        now = self._monotonic()
        return {job.name: self._run(job, now) for job in self.jobs.values() if job.due(now)}

    def run_job(self, name: str) -> object:
        """One job now, whether or not it is due (tests, and the `--once` run)."""
        return self._run(self.jobs[name], self._monotonic())

    def _run(self, job: Job, now: float) -> object:
        job.last_run = now
        try:
            return job.run()
        except Exception as exc:  # a failing job must not stop ingestion or the other jobs
            if isinstance(exc, DBAPIError | CrmUnavailable):
                log.warning("worker: %s could not finish: %s", job.name, str(exc).splitlines()[0][:300])
            else:
                log.exception("worker: %s failed", job.name)
            return None


class HelpdeskDelivery:
    """Posts the handoffs due to the external helpdesk (handoff/helpdesk.py). A round the helpdesk cut short (down
    or slow) pauses deliveries for HELPDESK_PAUSE seconds."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: helpdesk.HelpdeskSettings,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions, self.settings, self._now, self._monotonic = sessions, settings, clock, monotonic
        self._http = requests.Session()
        self._paused_until = 0.0

    def __call__(self) -> helpdesk.DeliveryReport | None:
        if self._monotonic() < self._paused_until:
            return None
        report = helpdesk.deliver_due(self._sessions, self.settings, self._http, self._now())
        if report.interrupted:
            self._paused_until = self._monotonic() + HELPDESK_PAUSE
        return report


class CodeDelivery:
    """Makes and emails the queued one-time codes (`SqlCrmService.deliver_codes`): a code request only queues, so
    it costs the same whether or not the address is on file. When the mail server fails, the request stays queued
    and deliveries pause for CODE_DELIVERY_PAUSE seconds; the error goes to the job's log line."""

    def __init__(self, deliver: Callable[[], int], monotonic: Callable[[], float] = time.monotonic) -> None:
        self._deliver, self._monotonic = deliver, monotonic
        self._paused_until = 0.0

    def __call__(self) -> int | None:
        if self._monotonic() < self._paused_until:
            return None
        try:
            return self._deliver()
        except CrmUnavailable:
            self._paused_until = self._monotonic() + CODE_DELIVERY_PAUSE
            raise


def refresh_summaries(sessions: sessionmaker[Session]) -> int:
    return SqlAnalytics(sessions).refresh_summaries()


def standard_jobs(
    sessions: sessionmaker[Session],
    clock: Callable[[], datetime],
    tracker: TrackerEvents | None = None,
    privacy_settle: timedelta = privacy.JOB_SETTLE,
    value_refresh: timedelta = timedelta(minutes=60),
    helpdesk_settings: helpdesk.HelpdeskSettings | None = None,
    deliver_codes: Callable[[], int] | None = None,
    assign: Callable[[], object] | None = None,
) -> list[Job]:
    """The worker's jobs besides closing idle conversations (the worker adds that one). `tracker` is Rasa's
    tracker store, where privacy jobs also delete and redact; the value and summary refresh first runs one period
    after the start (the run command refreshes them before). `deliver_codes` makes and emails the queued one-time
    codes (the CRM service's). `assign` gives waiting conversations to the online agents with room (as they come
    online, or finish one)."""
    jobs = [
        Job("privacy_jobs", lambda: privacy.run_jobs(sessions, tracker, clock, privacy_settle)),
    ]
    if deliver_codes is not None:
        jobs.append(Job("code_delivery", CodeDelivery(deliver_codes)))
    if assign is not None:
        jobs.append(Job("auto_assign", assign))
    if helpdesk_settings is not None and helpdesk_settings.url:
        jobs.append(Job("helpdesk_delivery", HelpdeskDelivery(sessions, helpdesk_settings, clock)))
    started = time.monotonic()
    every = value_refresh.total_seconds()
    jobs.append(Job("value_refresh", lambda: refresh_values(sessions), every=every, last_run=started))
    jobs.append(Job("analytics_summaries", lambda: refresh_summaries(sessions), every=every, last_run=started))
    return jobs
