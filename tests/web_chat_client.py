"""The web chat as the widget speaks it, for tests that talk to the real socket.io channel, and the widget's
configuration as the website's pages hand it over."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import socketio

from tests.waiting import wait_for

_WIDGET_CONFIG = re.compile(r'<script id="webchat-config" type="application/json">(.*?)</script>', re.S)


def widget_config(html: str) -> dict[str, Any]:
    """The configuration a website page hands the chat widget (socket URL, customData with the identity token)."""
    found = _WIDGET_CONFIG.search(html)
    assert found, html[:500]
    config: dict[str, Any] = json.loads(found.group(1))
    return config


class WebChatClient:
    """A socket.io client speaking the widget's events (`session_request`, `user_uttered` with customData) and
    keeping everything the server sends back: `confirmed` session ids and `uttered` bot messages, as sent."""

    def __init__(self, url: str, **connect: Any) -> None:
        self.client = socketio.Client(reconnection=False)
        self.confirmed: list[Any] = []
        self.uttered: list[Any] = []
        self.lock = threading.Lock()
        self.client.on("session_confirm", lambda data: self._add(self.confirmed, data))
        self.client.on("bot_uttered", lambda data: self._add(self.uttered, data))
        options = {"socketio_path": "/socket.io", "transports": ["websocket"], "wait_timeout": 20, **connect}
        self.client.connect(url, **options)

    def _add(self, into: list[Any], data: Any) -> None:
        with self.lock:
            into.append(data)

    def session(self, session_id: str | None = None, timeout: float = 20) -> str:
        """Ask for a session, with the id the widget keeps (or none: the server makes one); the id confirmed."""
        before = len(self.confirmed)
        self.client.emit("session_request", {"session_id": session_id})
        assert wait_for(lambda: len(self.confirmed) > before, timeout=timeout, step=0.05), "no session_confirm"
        confirmed = self.confirmed[-1]
        return str(confirmed["session_id"] if isinstance(confirmed, dict) else confirmed)

    def say(self, session_id: str, text: str, custom: Any = None, timeout: float = 30, quiet: float = 0) -> list[Any]:
        """What the server sends back for `text`: nothing if no reply comes within `timeout`, else from the first
        reply on until it has been quiet for `quiet` seconds (0: the replies there are when the first arrives)."""
        before = len(self.uttered)
        deadline = time.monotonic() + timeout
        self.client.emit("user_uttered", {"message": text, "session_id": session_id, "customData": custom or {}})
        if not wait_for(lambda: len(self.uttered) > before, timeout=timeout, step=0.02):
            return []
        count = -1
        while quiet and count != len(self.uttered) and time.monotonic() < deadline:
            count = len(self.uttered)
            time.sleep(quiet)
        return self.uttered[before:]

    def close(self) -> None:
        self.client.disconnect()
