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
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as _RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request

from bot import session_binding
from bot.message_rules import rest_message_problem, socket_message_problem
from shared import log_redaction, rest_clients, sentiment, web_chat, web_identity, web_origins

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
# set only by a connector whose channel authenticates the sender id (a platform's signed webhook, a REST
# integration that vouches for its users): only then may the sender id be recognised as a linked account
SENDER_PROVEN_KEY = "sender_proven"
REST_CLIENT_KEY = "rest_client"  # the name of the REST integration that sent the message
SERVER_KEYS = (IDENTITY_KEY, SENTIMENT_KEY, TOKEN_KEY, SENDER_PROVEN_KEY, REST_CLIENT_KEY)


def stamp_channel(
    metadata: Any,
    channel: str,
    identity: dict[str, Any] | None = None,
    *,
    sender_proven: bool = False,
    rest_client: str | None = None,
) -> dict[str, Any]:
    """The message metadata as actions see it: the client's keys, minus anything only this server may say
    (who the sender is, whether the sender id is proven, the mood, a bearer token), plus the channel's name and
    what this server checked."""
    clean = dict(metadata) if isinstance(metadata, dict) else {}
    for key in SERVER_KEYS:  # the token is a bearer credential: checked here, never stored with the conversation
        clean.pop(key, None)
    clean["channel"] = channel
    if identity:
        clean[IDENTITY_KEY] = identity
    if sender_proven:
        clean[SENDER_PROVEN_KEY] = True
    if rest_client:
        clean[REST_CLIENT_KEY] = rest_client
    return clean


class StampedChannel:
    """Mixin for a Rasa input channel: whatever route a connector takes, each message reaches the bot with
    server-side metadata (see `stamp_channel`). Put it before the Rasa connector in the bases.

    `proves_sender`: whether the channel authenticates its sender ids. The messaging apps' connectors refuse a
    webhook without the platform's signature (bot/messaging.py), so their chat ids are the platform's word."""

    proves_sender = True

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
        return stamp_channel(metadata, self.name(), sender_proven=self.proves_sender)  # type: ignore[attr-defined]


def accepted_origins(origins: tuple[str, ...]) -> Callable[..., bool]:
    """python-socketio's origin check: the configured website origins, and the server's own (same origin)."""

    def accepted(origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if origin in origins:
            return True
        host = (environ or {}).get("HTTP_HOST")
        return bool(host) and origin == f"{(environ or {}).get('wsgi.url_scheme', 'http')}://{host}"

    return accepted


_CLIENT = "hearth.rest_client"  # where the authenticated integration travels from the request to server_metadata


class RestInput(StampedChannel, _RestInput):
    """Rasa's REST channel (same URL: /webhooks/rest/webhook) for integrations that authenticate.

    Every message needs `Authorization: Bearer <token>` of an integration named in REST_CLIENTS
    (shared/rest_clients.py); anything else gets a 401 and reaches no conversation. The caller picks the sender
    id, so a sender id is recognised as a customer's linked account only when the integration vouches for its
    users, and a conversation started by one integration is a new session for any other (bot/session_binding.py).

    It also refuses malformed bodies with a 400 that says what is wrong, where Rasa's own
    connector answers a 500, silently drops the message, or files every sender-less
    request under one shared 'default' conversation.
    """

    proves_sender = False  # decided per integration

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        clients = rest_clients.parse(os.environ.get(rest_clients.VARIABLE))
        if not clients:
            log.warning("REST_CLIENTS names no integration: the REST channel refuses every message")

        @blueprint.middleware("request")
        async def authenticate_and_check(request: Request) -> Any:
            if request.method != "POST" or not request.path.endswith("/webhook"):
                return None
            client = rest_clients.authenticate(clients, request.headers.get("Authorization"))
            if client is None:
                return response.json(
                    {
                        "error": "unauthorized",
                        "message": "The REST channel needs 'Authorization: Bearer <token>' of an integration "
                        "named in REST_CLIENTS.",
                    },
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="hearth-rest"'},
                )
            request.ctx.rest_client = client
            try:
                payload = request.json
            except Exception:  # noqa: BLE001 - Sanic raises its own error type for a bad body
                payload = None
            problem = rest_message_problem(payload)
            if problem:
                return response.json({"error": "bad_request", "message": problem}, status=400)
            return None

        return blueprint

    def get_metadata(self, request: Request) -> dict[str, Any]:
        # The body's metadata, with the integration the middleware authenticated under a key the body cannot
        # set (it is overwritten here), taken out again by server_metadata before anything else sees it.
        metadata = request.json.get("metadata")
        clean = dict(metadata) if isinstance(metadata, dict) else {}
        clean[_CLIENT] = request.ctx.rest_client
        return clean

    def server_metadata(self, metadata: Any) -> dict[str, Any]:
        client = metadata.pop(_CLIENT, None) if isinstance(metadata, dict) else None
        if not isinstance(client, rest_clients.RestClient):  # cannot happen: the middleware refused the call
            raise RuntimeError("a REST message reached the bot without an authenticated integration")
        return stamp_channel(metadata, self.name(), sender_proven=client.vouches, rest_client=client.name)


_SESSIONS = "web_chat_sessions"  # where a socket's own web chat sessions are kept (its socket.io session)


class WebChatInput(StampedChannel, SocketIOInput):
    """Rasa's socket.io channel for the web chat widget, which trusts who a visitor is only from a token the
    host website signed (shared/web_identity.py); a missing, forged, tampered or expired one leaves them anonymous.

    The conversation's sender id is derived from the widget's secret session id (shared/web_chat.py), and a
    socket talks only in the sessions it opened. The widget sends its metadata as `customData` (set
    `metadata_key: customData` in credentials).
    """

    proves_sender = False  # the widget names its own session id; who the visitor is comes only from the token

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None
        # Rasa opens socket.io to every origin: a page anywhere could drive a visitor's chat from their browser.
        # Only the website's own origins (WEB_CHAT_ORIGINS) and the server's own may connect; a WebSocket
        # handshake from any other page is refused (browsers apply CORS to HTTP only, so the check is here).
        sio.eio.cors_allowed_origins = accepted_origins(web_origins.parse(os.environ.get(web_origins.VARIABLE)))
        # The CORS headers themselves come from Rasa's CORS (the same origins, bot/run_rasa.py), which covers every
        # route: a second Access-Control-Allow-Origin from engine.io would make browsers refuse the answer.
        sio.eio._cors_headers = lambda environ: []  # type: ignore[method-assign]
        if os.environ.get("REDIS_URL"):
            # With several Rasa servers, a reply produced on one (an agent's message through the HTTP API) must
            # reach a socket held by another: python-socketio's Redis manager passes emits between servers.
            # Set before the first connection, when python-socketio initialises its manager.
            sio.manager = socketio.AsyncRedisManager(os.environ["REDIS_URL"], channel="hearth-socketio")
            sio.manager.set_server(sio)

        # Who may talk in which conversation (shared/web_chat.py): the session id the widget keeps is a secret; the
        # conversation's sender id, and the room its replies go to, is derived from it here, so a sender id seen in
        # the console, the history or a log gives no way into the conversation. A socket talks only in the sessions
        # it asked for itself (at most a few), and a message naming any other is refused.
        key = web_chat.sender_key(os.environ.get("WEB_IDENTITY_SECRET", ""))
        namespace = self.namespace or "/"

        async def refuse(sid: str, problem: str, error: str = "bad_request") -> None:
            log.info("web chat message refused: %s", problem)
            refusal = {"text": f"Sorry, I couldn't read that message. {problem}", "error": error}
            await sio.emit(self.bot_message_evt, refusal, room=sid, namespace=self.namespace)

        async def opened(sid: str) -> web_chat.SocketSessions:
            session = await sio.get_session(sid, namespace=namespace)
            sessions = session.get(_SESSIONS)
            if not isinstance(sessions, web_chat.SocketSessions):
                sessions = session[_SESSIONS] = web_chat.SocketSessions(key)
                await sio.save_session(sid, session, namespace=namespace)
            return sessions

        # Rasa 3.6's handler calls `sio.enter_room` without awaiting it, which python-socketio 5.10+ made a
        # coroutine: the socket never joins the conversation's room and replies reach nobody. Same handler,
        # awaited (replacing a handler is python-socketio's documented `on`), joining the room of the derived
        # sender id; a session id that could not be a secret (not text, too short or too long, control characters)
        # is replaced by a fresh one, which the widget keeps from `session_confirm`.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None, *_extra: Any) -> None:  # any arguments a client sends
            requested = data.get("session_id") if isinstance(data, dict) else None
            try:
                session_id, sender = (await opened(sid)).open(requested)
            except web_chat.TooManySessions as exc:
                await refuse(sid, f"{exc}.", "too_many_sessions")
                return
            if self.session_persistence:
                await sio.enter_room(sid, sender, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        # Rasa's message handler trusts the payload's shape: a payload that is not an object, a message that is
        # not text or metadata that is not JSON logs a traceback and the message vanishes, and a session id
        # holding an unpaired surrogate reaches the SQL tracker store, which stops the server on the database
        # error. Such a message is refused here, and the sender is told why in the chat; so is a message naming a
        # session this socket did not open. Rasa's handler gets the conversation's sender id as the session id.
        handle_message = sio.handlers[namespace][self.user_message_evt]

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def checked_message(sid: str, data: Any = None, *_extra: Any) -> Any:
            problem = socket_message_problem(data, self.metadata_key, self.session_persistence)
            if problem is not None:
                await refuse(sid, problem)
                return None
            if not self.session_persistence:  # the socket is the conversation (Rasa's sender id: the socket's id)
                return await handle_message(sid, data)
            sender = (await opened(sid)).sender_of(data.get("session_id"))
            if sender is None:
                await refuse(sid, "This chat did not open that session: ask for one first.", "unknown_session")
                return None
            return await handle_message(sid, {**data, "session_id": sender})

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
                if checked.sign_in:  # the action server checks the sign-in still lasts (actions/session.py)
                    identity["sign_in"] = checked.sign_in
            except (web_identity.InvalidToken, ValueError) as exc:
                log.info("web chat identity token refused (%s); the visitor stays anonymous", exc)
        return stamp_channel(metadata, self.name(), identity)
