"""A `CodeSender` that keeps what it is asked to send, so a test can read the one-time code back, and the inbox a
test reads it through (the worker's code delivery run first)."""

from __future__ import annotations

from collections.abc import Callable


class RecordingCodeSender:
    """Keeps every (email, code) it is asked to send, oldest first."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_code(self, email: str, first_name: str, code: str) -> None:
        self.sent.append((email, code))

    def last_code_for(self, email: str) -> str | None:
        for address, code in reversed(self.sent):
            if address == email:
                return code
        return None


class Inbox:
    """The customers' inboxes, as a test reads them: asking for a code only queues it, and the worker makes and
    emails the queued codes every round (`deliver`, the service's `deliver_codes`), so reading runs a delivery
    first, as the worker would have by the time a customer looks. `sender.sent` is what was emailed so far, without
    running one."""

    def __init__(self, sender: RecordingCodeSender, deliver: Callable[[], int]) -> None:
        self.sender = sender
        self.deliver = deliver

    @property
    def sent(self) -> list[tuple[str, str]]:
        self.deliver()
        return self.sender.sent

    def last_code_for(self, email: str) -> str | None:
        self.deliver()
        return self.sender.last_code_for(email)
