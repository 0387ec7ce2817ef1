"""Web chat sessions: the session id the widget keeps is a secret, and the conversation's sender id is derived
from it on the server.

The widget asks for a session (`session_request`) with the id it kept, or none, and sends every message with
it. Rasa's socket.io channel would use that id as the conversation's sender id and as the socket.io room its
replies go to; but sender ids are not secrets (they show in the agent console, the history and the logs), so
anyone who learnt one could join the room, read the replies and write into the conversation. Here:

* the session id is a secret that only the widget holding it knows: one the server makes (128 random bits)
  when the widget has none, or has one too short to be a secret;
* the conversation's sender id, and the room its replies go to, is ``web-`` followed by an HMAC-SHA256 of the
  session id under a key derived from WEB_IDENTITY_SECRET: knowing it gives no way back to the session id;
* a socket talks only in the sessions it asked for itself (`SocketSessions`), at most
  `MAX_SESSIONS_PER_SOCKET` of them, so a message naming any other session is refused.

No other channel's sender id starts with ``web-`` (the REST channel refuses such senders), so no conversation
of another channel can be reached from the web chat, nor the other way round.

Standard library only: the Rasa server (Rasa environment) derives sender ids, and the tests (app environment)
check them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SENDER_PREFIX = "web-"
MAX_SESSIONS_PER_SOCKET = 8
MIN_SESSION_ID_CHARS = 16  # shorter is no secret: the server makes a new one
MAX_SESSION_ID_CHARS = 255
_KEY_PURPOSE = b"hearth web chat sender id v1"


def sender_key(identity_secret: str) -> bytes:
    """The key sender ids are derived with: from (never equal to) WEB_IDENTITY_SECRET, which also signs tokens."""
    if not identity_secret:
        raise ValueError("WEB_IDENTITY_SECRET is not set: web chat sender ids are derived from it")
    return hmac.new(identity_secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def sender_id(key: bytes, session_id: str) -> str:
    """The conversation's sender id (and socket.io room) of the web chat session `session_id`."""
    return SENDER_PREFIX + hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()[:40]


def is_web_chat_sender(sender: str) -> bool:
    """Whether a sender id is of the form only the web chat gives out (another channel must not use it)."""
    return sender[: len(SENDER_PREFIX)].lower() == SENDER_PREFIX


def new_session_id() -> str:
    return secrets.token_hex(16)


def usable_session_id(session_id: object) -> bool:
    """Whether a session id the widget sends may stand as its secret: text, long enough to be unguessable,
    short enough to keep, printable."""
    return (
        isinstance(session_id, str)
        and MIN_SESSION_ID_CHARS <= len(session_id) <= MAX_SESSION_ID_CHARS
        and session_id.isprintable()  # no control characters, no unpaired surrogates
    )


class TooManySessions(Exception):
    """A socket asked for more sessions than one widget ever needs."""


class SocketSessions:
    """The web chat sessions one socket opened with `session_request`: the only ones it may talk in."""

    def __init__(self, key: bytes, limit: int = MAX_SESSIONS_PER_SOCKET) -> None:
        self._key = key
        self._limit = limit
        self._senders: dict[str, str] = {}

    def open(self, session_id: object) -> tuple[str, str]:
        """(session id, sender id) of the session the socket asked for: the id it sent when usable, a new one
        otherwise. TooManySessions when the socket has opened its share already."""
        if not isinstance(session_id, str) or not usable_session_id(session_id):
            session_id = new_session_id()
        if session_id not in self._senders:
            if len(self._senders) >= self._limit:
                raise TooManySessions(f"a socket may open at most {self._limit} web chat sessions")
            self._senders[session_id] = sender_id(self._key, session_id)
        return session_id, self._senders[session_id]

    def sender_of(self, session_id: object) -> str | None:
        """The sender id of a session this socket opened; None for any other."""
        return self._senders.get(session_id) if isinstance(session_id, str) else None

    def __len__(self) -> int:
        return len(self._senders)
