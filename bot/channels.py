"""Channel connectors that run inside the Rasa server.

Rasa gives an action the channel of a message only after the message is logged, which
is too late for `action_session_start`. These connectors put the channel's name into the
message metadata on the server side (overwriting anything the client claims), so the
first action of a session already knows which channel account is talking.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as _RestInput
from sanic import Blueprint, response
from sanic.request import Request

from bot.message_rules import rest_message_problem


def stamp_channel(metadata: Any, channel: str) -> dict[str, Any]:
    clean = dict(metadata) if isinstance(metadata, dict) else {}
    clean["channel"] = channel
    return clean


class RestInput(_RestInput):
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

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return stamp_channel(super().get_metadata(request), self.name())
