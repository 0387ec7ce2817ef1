"""Channel connectors that run inside the Rasa server.

Rasa gives an action the channel of a message only after the message is logged, which
is too late for `action_session_start`. These connectors put the channel's name into the
message metadata on the server side (overwriting anything the client claims), so the
first action of a session already knows which channel account is talking. The web chat
connector adds who the visitor is, when the host website vouches for them with a signed token.
Messaging apps (Telegram, Slack, Twilio, Messenger) are in bot/messaging.py.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as _RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request

from bot import session_binding
from bot.message_rules import rest_message_problem, sender_problem, socket_message_problem
from shared import log_redaction, sentiment, web_identity

# Every Rasa process that runs Hearth's bot imports this module (the credentials name its connectors, and
# bot/policies.py imports it at training): from here on no log line carries an email address or phone number
# in full, Rasa's structlog lines included (they end as stdlib records).
log_redaction.install()
# A session stays with the channel and website identity it started with (bot/session_binding.py): a message
# from another, on the same sender id, starts a new session and sees nothing of the earlier one.
session_binding.install()

log = logging.getLogger(__name__)


IDENTITY_KEY = "identity"  # set only by a connector, from a checked website token
SENTIMENT_KEY = "sentiment"  # VADER's compound score of the message, -1..1, set by the connector
TOKEN_KEY = "identity_token"  # where the website's widget puts its signed token (customData)


def stamp_channel(metadata: Any, channel: str, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """The message metadata as actions see it: the client's keys, minus any identity it claims, plus the
    channel's name and the identity this server checked (if any)."""
    clean = dict(metadata) if isinstance(metadata, dict) else {}
    clean.pop(IDENTITY_KEY, None)
    clean.pop(SENTIMENT_KEY, None)
    clean.pop(TOKEN_KEY, None)  # a bearer credential: checked here, never stored with the conversation
    clean["channel"] = channel
    if identity:
        clean[IDENTITY_KEY] = identity
    return clean


class StampedChannel:
    """Mixin for a Rasa input channel: whatever route a connector takes, each message reaches the bot with
    server-side metadata (see `stamp_channel`). Put it before the Rasa connector in the bases."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def stamped(message: UserMessage) -> Any:
            message.metadata = self.server_metadata(message.metadata)
            if message.text and not message.text.startswith("/"):  # "/intent" payloads are buttons, not words
                mood = sentiment.score(message.text)
                if mood is not None:
                    message.metadata[SENTIMENT_KEY] = mood
            return await on_new_message(message)

        return super().blueprint(stamped)  # type: ignore[misc]

    def server_metadata(self, metadata: Any) -> dict[str, Any]:
        return stamp_channel(metadata, self.name())  # type: ignore[attr-defined]


class RestInput(StampedChannel, _RestInput):
    """Rasa's REST channel (same URL: /webhooks/rest/webhook) with the channel stamped into metadata.

    It also refuses malformed bodies with a 400 that says what is wrong, where Rasa's own
    connector answers a 500, silently drops the message, or files every sender-less
    request under one shared 'default' conversation.
    """

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)

        @blueprint.middleware("request")
        async def refuse_malformed(request: Request) -> Any:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            try:
                payload = request.json
            except Exception:  # noqa: BLE001 - Sanic raises its own error type for a bad body
                payload = None
            problem = rest_message_problem(payload)
            if problem:
                return response.json({"error": "bad_request", "message": problem}, status=400)
            return None

        return blueprint


class WebChatInput(StampedChannel, SocketIOInput):
    """Rasa's socket.io channel for the web chat widget, which trusts who a visitor is only from a token the
    host website signed (shared/web_identity.py); a missing, forged, tampered or expired one leaves them anonymous.

    The widget sends its metadata as `customData` (set `metadata_key: customData` in credentials).
    """

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        if os.environ.get("REDIS_URL"):
            # With several Rasa servers, a reply produced on one (an agent's message through the HTTP API) must
            # reach a socket held by another: python-socketio's Redis manager passes emits between servers.
            # Set before the first connection, when python-socketio initialises its manager.
            sio.manager = socketio.AsyncRedisManager(os.environ["REDIS_URL"], channel="hearth-socketio")
            sio.manager.set_server(sio)

        # Rasa 3.6's handler calls `sio.enter_room` without awaiting it, which python-socketio 5.10+ made a
        # coroutine: the socket never joins the conversation's room and replies reach nobody. Same handler,
        # awaited (replacing a handler is python-socketio's documented `on`), and a session id that could not
        # name a conversation (not text, too long, control characters) is replaced by a fresh one.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None, *_extra: Any) -> None:  # any arguments a client sends
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if sender_problem(session_id):
                session_id = uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        # Rasa's message handler trusts the payload's shape: a payload that is not an object, a message that is
        # not text or metadata that is not JSON logs a traceback and the message vanishes, and a session id
        # holding an unpaired surrogate reaches the SQL tracker store, which stops the server on the database
        # error. Such a message is refused here, and the sender is told why in the chat.
        namespace = self.namespace or "/"
        handle_message = sio.handlers[namespace][self.user_message_evt]

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def checked_message(sid: str, data: Any = None, *_extra: Any) -> Any:
            problem = socket_message_problem(data, self.metadata_key, self.session_persistence)
            if problem is None:
                return await handle_message(sid, data)
            log.info("web chat message refused: %s", problem)
            refusal = {"text": f"Sorry, I couldn't read that message. {problem}", "error": "bad_request"}
            await sio.emit(self.bot_message_evt, refusal, room=sid, namespace=self.namespace)
            return None

        return blueprint

    def server_metadata(self, metadata: Any) -> dict[str, Any]:
        token = metadata.get(TOKEN_KEY) if isinstance(metadata, dict) else None
        identity = None
        if token is not None:
            secret = os.environ.get("WEB_IDENTITY_SECRET", "")
            try:
                if not secret:
                    raise web_identity.InvalidToken("WEB_IDENTITY_SECRET is not set on the Rasa server")
                checked = web_identity.verify(secret, token)
                identity = {"customer_id": checked.customer_id, "source": "website"}
            except (web_identity.InvalidToken, ValueError) as exc:
                log.info("web chat identity token refused (%s); the visitor stays anonymous", exc)
        return stamp_channel(metadata, self.name(), identity)
