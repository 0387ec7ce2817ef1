"""The systems allowed to post to the REST channel, and which of them vouch for who their senders are.

The REST webhook is for integrations (a shop's app, a kiosk, a test harness), never for browsers: the caller
picks the sender id, so the caller must prove it is a known integration. Each integration has a name and a
bearer token; one that has signed its own users in may also be trusted to name them (`vouches`): only then is
a sender id it sends recognised as a customer's linked account. Every other caller's sender is a stranger until
they verify in the conversation.

REST_CLIENTS holds the integrations, comma separated, each ``name:token`` or ``name:token:vouches``:

    REST_CLIENTS="shop-app:3b1f...e9:vouches,kiosk:77ac...02"

Standard library only: the Rasa server (which checks the tokens) and the app environment (which checks the
setting at start, hearth/settings.py) share this file.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

VARIABLE = "REST_CLIENTS"
MIN_TOKEN_CHARS = 32
VOUCHES = "vouches"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.~+/=-]+$")


@dataclass(frozen=True)
class RestClient:
    name: str
    token: str = ""
    vouches: bool = False

    def __repr__(self) -> str:  # never the token, in a log line or a traceback
        return f"RestClient(name={self.name!r}, vouches={self.vouches})"


def parse(value: str | None) -> tuple[RestClient, ...]:
    """The integrations REST_CLIENTS names; ValueError saying what is wrong (never echoing a token)."""
    clients: list[RestClient] = []
    for position, entry in enumerate((value or "").split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":")
        name, token = parts[0].strip(), parts[1].strip() if len(parts) > 1 else ""
        flags = [p.strip() for p in parts[2:]]
        where = f"{VARIABLE} entry {position}"
        if not _NAME.match(name):
            raise ValueError(f"{where}: the name must be 1-40 lowercase letters, digits, '-' or '_', then ':token'")
        if len(token) < MIN_TOKEN_CHARS or not _TOKEN.match(token):
            raise ValueError(
                f"{where} ({name}): the token must be at least {MIN_TOKEN_CHARS} characters without ':' or ',' "
                "(e.g. the output of `openssl rand -hex 32`)"
            )
        if flags not in ([], [VOUCHES]):
            raise ValueError(f"{where} ({name}): after the token only ':{VOUCHES}' may follow")
        if any(c.name == name for c in clients):
            raise ValueError(f"{where}: the name {name!r} is given twice")
        if any(hmac.compare_digest(c.token, token) for c in clients):
            raise ValueError(f"{where} ({name}): every integration needs its own token")
        clients.append(RestClient(name, token, vouches=bool(flags)))
    return tuple(clients)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def authenticate(clients: tuple[RestClient, ...], authorization: str | None) -> RestClient | None:
    """The integration whose token the header carries; None for a missing or unknown token. Every client's token
    is compared in constant time, so the answer takes as long whichever token is close."""
    token = bearer_token(authorization)
    if token is not None and not token.isascii():
        # Tokens are ASCII (parse() checks); a header the server decoded with escaped bytes could not even be
        # encoded for the comparison, so it is refused here as an unknown token.
        return None
    found = None
    for client in clients:
        if hmac.compare_digest(client.token.encode(), (token or "").encode()) and token:
            found = client
    return found
