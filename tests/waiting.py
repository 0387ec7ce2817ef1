"""Waiting for something the product does in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 60.0, step: float = 0.5) -> T:
    """`check()`'s first truthy value within `timeout` seconds; its last (falsy) value when there is none."""
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(step)
    return value
