"""Channel connectors that run inside the Rasa server.

Rasa gives an action the channel of a message only after the message is logged, which
is too late for `action_session_start`. These connectors put the channel's name into the
message metadata on the server side (overwriting anything the client claims), so the
first action of a session already knows which channel account is talking.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.rest import RestInput as _RestInput
from sanic.request import Request


def stamp_channel(metadata: Any, channel: str) -> dict[str, Any]:
    clean = dict(metadata) if isinstance(metadata, dict) else {}
    clean["channel"] = channel
    return clean


class RestInput(_RestInput):
    """Rasa's REST channel (same URL: /webhooks/rest/webhook) with the channel stamped into metadata."""

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        return stamp_channel(super().get_metadata(request), self.name())
