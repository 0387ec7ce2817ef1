"""The website origins allowed to open the web chat (WEB_CHAT_ORIGINS): Rasa's CORS answers and socket.io's
origin check both take this list, so no other web page can drive the bot from a visitor's browser.

    WEB_CHAT_ORIGINS="https://shop.example.com,https://www.shop.example.com"

Standard library only: the Rasa server reads it (bot/run_rasa.py, bot/channels.py) and hearth/settings.py checks
it at start.
"""

from __future__ import annotations

from urllib.parse import urlsplit

VARIABLE = "WEB_CHAT_ORIGINS"


def parse(value: str | None) -> tuple[str, ...]:
    """The origins, each `scheme://host[:port]`; ValueError saying which entry is wrong. '*' is refused: an origin
    list that admits every page is what this setting exists to prevent."""
    found: list[str] = []
    for entry in (value or "").split(","):
        entry = entry.strip().rstrip("/")
        if not entry:
            continue
        parts = urlsplit(entry)
        if entry == "*" or parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
            raise ValueError(
                f"{VARIABLE}: {entry!r} is not an origin; give scheme://host[:port] of the website, comma separated"
            )
        if entry not in found:
            found.append(entry)
    return tuple(found)
