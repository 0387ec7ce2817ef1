"""worker/jobs.py: jobs run when due, each on its own; a failing job is logged and the others still run."""

from __future__ import annotations

import logging

import pytest

from crm_adapter.domain import CrmUnavailable
from worker.jobs import Housekeeping, Job

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
