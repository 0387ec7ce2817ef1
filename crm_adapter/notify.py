"""Delivery of one-time codes."""

from __future__ import annotations

import logging

log = logging.getLogger("hearth.codes")


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


class LogCodeSender:
    """Development delivery: writes the code to the log instead of emailing it."""

    def send_code(self, email: str, first_name: str, code: str) -> None:
        log.warning("one-time code for %s: %s (development delivery, not emailed)", mask_email(email), code)


class RecordingCodeSender:
    """Keeps every code it is asked to send; for tests and local demos."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_code(self, email: str, first_name: str, code: str) -> None:
        self.sent.append((email, code))

    def last_code_for(self, email: str) -> str | None:
        for address, code in reversed(self.sent):
            if address == email:
                return code
        return None
