"""What an incoming channel message must look like. Plain Python, so it is testable anywhere."""

from __future__ import annotations

import json
import re
from typing import Any

from shared.web_chat import SENDER_PREFIX, is_web_chat_sender

MAX_MESSAGE_CHARS = 5000
MAX_SENDER_CHARS = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
NOT_TEXT = "The message must be text: it has an unpaired surrogate escape (\\ud800-\\udfff)."


def sender_problem(sender: Any, name: str = "sender") -> str | None:
    """None when `sender` can name a conversation (it becomes the tracker's key in the database)."""
    if not isinstance(sender, str) or not sender.strip():
        return f"'{name}' must be a non-empty string that identifies the conversation."
    if len(sender) > MAX_SENDER_CHARS or _CONTROL.search(sender) or _SURROGATE.search(sender):
        return f"'{name}' must be at most {MAX_SENDER_CHARS} characters of text, without control characters."
    return None


def text_problem(message: Any, name: str = "message") -> str | None:
    if not isinstance(message, str) or not message.strip():
        return f"'{name}' must be a non-empty string."
    if len(message) > MAX_MESSAGE_CHARS:
        return f"'{name}' is longer than {MAX_MESSAGE_CHARS} characters."
    return None


def is_text(value: Any) -> bool:
    """False when a decoded JSON value holds an unpaired surrogate ("\\ud800" is valid JSON, but no database can
    store it, and Rasa's SQL tracker store answers a database error by stopping the server)."""
    try:
        json.dumps(value, ensure_ascii=False).encode()
        return True
    except (UnicodeEncodeError, TypeError, ValueError):
        return False


def rest_message_problem(payload: Any) -> str | None:
    """None when a REST webhook body is acceptable, otherwise a sentence saying what is wrong."""
    if not isinstance(payload, dict):
        return "The body must be a JSON object with 'sender' and 'message'."
    problem = sender_problem(payload.get("sender")) or text_problem(payload.get("message"))
    if problem:
        return problem
    if is_web_chat_sender(payload["sender"]):  # the web chat's conversations: none of REST's business
        return f"'sender' must not start with '{SENDER_PREFIX}': such ids name web chat conversations."
    metadata = payload.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return "'metadata' must be a JSON object when given."
    return None if is_text(payload) else NOT_TEXT


def socket_metadata(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The metadata a web chat message carries under `key`: an object, or a string holding a JSON object (as
    some widgets send it); None when it is neither."""
    metadata = data.get(key)
    if metadata is None:
        return {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    return metadata if isinstance(metadata, dict) else None


def socket_message_problem(data: Any, metadata_key: str, session_persistence: bool) -> str | None:
    """None when a web chat `user_uttered` payload is acceptable, otherwise a sentence saying what is wrong."""
    if not isinstance(data, dict):
        return "A message must be an object with 'message' and 'session_id'."
    if session_persistence and (problem := sender_problem(data.get("session_id"), "session_id")):
        return problem
    if problem := text_problem(data.get("message")):
        return problem
    if socket_metadata(data, metadata_key) is None:
        return f"'{metadata_key}' must be a JSON object (or a string holding one) when given."
    return None if is_text(data) else NOT_TEXT
