"""Fixtures of the fuzz tests: one running product for the package, and the counts of what was sent.

Every fuzz test records each hostile input it sent and the HTTP status it got (or a word for what came back
on the web chat's socket) in `fuzz_counts`; at the end of the session the counts per target are written to
results/fuzz/summary.json and summed up in one line of pytest's report.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.browser.conftest import browser  # noqa: F401 - the browser tests' Chromium, for test_browser_injection
from tests.e2e.stack import Stack, running_stack
from tests.rasa_env import ROOT

SUMMARY = ROOT / "results" / "fuzz" / "summary.json"
AGENT_PASSWORD = "an-agent-password-for-the-fuzz-tests"
ADMIN_PASSWORD = "an-admin-password-for-the-fuzz-tests"
SHOP_PASSWORD = "shop-password-for-the-fuzz-tests"


@dataclass
class Target:
    inputs: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class FuzzCounts:
    """Inputs sent per target (REST webhook, web chat socket, CRM API, console, website, pages)."""

    def __init__(self) -> None:
        self.targets: dict[str, Target] = {}

    def record(self, target: str, status: int | str) -> None:
        entry = self.targets.setdefault(target, Target())
        entry.inputs += 1
        entry.statuses[str(status)] += 1

    def count(self, target: str) -> int:
        return self.targets[target].inputs if target in self.targets else 0

    def timed(self, target: str, seconds: float) -> None:
        self.targets.setdefault(target, Target()).seconds += seconds

    @property
    def total(self) -> int:
        return sum(t.inputs for t in self.targets.values())

    def as_json(self) -> dict[str, Any]:
        return {
            "total_inputs": self.total,
            "targets": {
                name: {
                    "inputs": t.inputs,
                    "statuses": dict(sorted(t.statuses.items())),
                    "server_errors": sum(n for s, n in t.statuses.items() if s.isdigit() and int(s) >= 500),
                    "seconds": round(t.seconds, 1),
                }
                for name, t in sorted(self.targets.items())
            },
        }

    def line(self) -> str:
        parts = ", ".join(f"{name} {t.inputs:,}" for name, t in sorted(self.targets.items()))
        return f"fuzz: {self.total:,} hostile inputs ({parts}); summary in {SUMMARY.relative_to(ROOT)}"


_COUNTS = FuzzCounts()


@pytest.fixture(scope="session")
def fuzz_counts() -> Iterator[FuzzCounts]:
    yield _COUNTS
    if _COUNTS.total:
        SUMMARY.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY.write_text(json.dumps(_COUNTS.as_json(), indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _COUNTS.total:
        terminalreporter.write_line(_COUNTS.line())


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The product as `make run` starts it, shared by the fuzz tests of this package (one start, not five)."""
    with running_stack(
        tmp_path_factory.mktemp("fuzz"),
        HANDOFF_HOURS="always",
        CONSOLE_AGENT_PASSWORD=AGENT_PASSWORD,
        CONSOLE_ADMIN_PASSWORD=ADMIN_PASSWORD,
        WEBSITE_DEMO_PASSWORD=SHOP_PASSWORD,
    ) as s:
        yield s


@pytest.fixture
def live_stack(stack: Stack) -> Stack:
    """The shared stack, checked to be running (a test that stopped it would make the rest meaningless)."""
    if stack.process.poll() is not None:
        pytest.fail("the stack is not running any more:\n" + "".join(stack.output[-40:]))
    return stack


def tracebacks_since(stack: Stack, start: int) -> list[str]:
    """The Python tracebacks the stack's processes printed after output line `start` (their first lines)."""
    lines = stack.output[start:]
    return ["".join(lines[i : i + 40])[-2000:] for i, line in enumerate(lines) if "Traceback (most recent" in line]


def assert_still_answers(stack: Stack, sender: str) -> None:
    """Every process is alive and the bot answers an ordinary greeting over REST."""
    assert stack.process.poll() is None, "".join(stack.output[-60:])
    replies = stack.say(sender, "hi")
    assert replies and replies[0].startswith(("Hi, I'm Juno", "Welcome back")), replies
    for url in (stack.console_url + "/health", stack.website_url + "/health"):
        assert requests.get(url, timeout=10).json() == {"status": "ok"}
