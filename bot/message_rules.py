"""What an incoming channel message must look like. Plain Python, so it is testable anywhere."""

from __future__ import annotations

import re
from typing import Any

MAX_MESSAGE_CHARS = 5000
MAX_SENDER_CHARS = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def rest_message_problem(payload: Any) -> str | None:
    """None when a REST webhook body is acceptable, otherwise a sentence saying what is wrong."""
    if not isinstance(payload, dict):
        return "The body must be a JSON object with 'sender' and 'message'."
    sender = payload.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        return "'sender' must be a non-empty string that identifies the conversation."
    if len(sender) > MAX_SENDER_CHARS or _CONTROL.search(sender):
        return f"'sender' must be at most {MAX_SENDER_CHARS} characters, without control characters."
    message = payload.get("message")
    if not isinstance(message, str) or not message.strip():
        return "'message' must be a non-empty string."
    if len(message) > MAX_MESSAGE_CHARS:
        return f"'message' is longer than {MAX_MESSAGE_CHARS} characters."
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "'metadata' must be a JSON object when given."
    return None
