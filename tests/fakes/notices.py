"""A `Notices` that keeps what it is asked to send, so a test can read the notices back."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notice:
    email: str
    first_name: str
    subject: str
    body: str


class RecordingNotices:
    """Keeps every notice it is asked to send, oldest first."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def send_notice(self, email: str, first_name: str, subject: str, body: str) -> None:
        self.sent.append(Notice(email, first_name, subject, body))

    def to(self, email: str) -> list[Notice]:
        return [notice for notice in self.sent if notice.email == email]
