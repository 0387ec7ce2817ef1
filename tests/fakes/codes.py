"""A `CodeSender` that keeps what it is asked to send, so a test can read the one-time code back."""

from __future__ import annotations


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
