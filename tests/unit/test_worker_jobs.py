"""worker/jobs.py: jobs run when due, each on its own; a failing job is logged and the others still run."""

from __future__ import annotations

import logging

import pytest

from crm_adapter.domain import CrmUnavailable
from worker.jobs import CODE_DELIVERY_PAUSE, CodeDelivery, Housekeeping, Job, standard_jobs

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_job_runs_every_round_or_when_its_period_has_passed() -> None:
    clock, ran = Clock(), []
    housekeeping = Housekeeping(
        [
            Job("every_round", lambda: ran.append("every_round")),
            Job("hourly", lambda: ran.append("hourly"), every=3600, last_run=clock.now),
        ],
        monotonic=clock,
    )
    housekeeping.run_due()
    clock.now += 3599
    housekeeping.run_due()
    assert ran == ["every_round", "every_round"]
    clock.now += 1
    assert set(housekeeping.run_due()) == {"every_round", "hourly"}
    assert ran[-2:] == ["every_round", "hourly"]
    assert housekeeping.run_due() == {"every_round": None}  # the hourly one ran a moment ago


def test_a_failing_job_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("bug")

    def unreachable() -> None:
        raise CrmUnavailable("database down")

    housekeeping = Housekeeping([Job("broken", broken), Job("down", unreachable), Job("fine", lambda: 7)])
    with caplog.at_level(logging.WARNING, logger="worker"):
        assert housekeeping.run_due() == {"broken": None, "down": None, "fine": 7}
    messages = [record.getMessage() for record in caplog.records]
    assert any("broken failed" in message for message in messages)
    assert any("down could not finish: database down" in message for message in messages)


def test_run_job_runs_a_job_that_is_not_due() -> None:
    clock = Clock()
    housekeeping = Housekeeping([Job("hourly", lambda: "done", every=3600, last_run=clock.now)], monotonic=clock)
    assert housekeeping.run_due() == {}
    assert housekeeping.run_job("hourly") == "done"


def test_code_delivery_pauses_after_the_mail_server_failed() -> None:
    clock, calls = Clock(), []

    def deliver() -> int:
        calls.append(clock.now)
        if len(calls) == 1:
            raise CrmUnavailable("could not email the one-time code: connection refused")
        return 2

    housekeeping = Housekeeping([Job("code_delivery", CodeDelivery(deliver, monotonic=clock))], monotonic=clock)
    assert housekeeping.run_due() == {"code_delivery": None}  # failed: logged, the requests stay queued
    clock.now += CODE_DELIVERY_PAUSE - 1
    assert housekeeping.run_due() == {"code_delivery": None} and len(calls) == 1  # paused
    clock.now += 1
    assert housekeeping.run_due() == {"code_delivery": 2}


def test_the_worker_delivers_codes_only_when_given_a_delivery() -> None:
    names = {job.name for job in standard_jobs(None, lambda: None)}  # type: ignore[arg-type]
    assert "code_delivery" not in names
    names = {job.name for job in standard_jobs(None, lambda: None, deliver_codes=lambda: 0)}  # type: ignore[arg-type]
    assert "code_delivery" in names
