"""Signed identity from the host website: who a web chat visitor is, vouched for by the site they signed in to.

The website signs a short token with a secret it shares with the Rasa server (WEB_IDENTITY_SECRET) and hands
it to the chat widget; the web chat connector checks it on every message. Only a token with a good signature,
a known version, a customer id and an expiry still in the future identifies anyone; everything else leaves the
visitor anonymous. Standard library only, so the website (app environment) and the Rasa server (Rasa
environment) share this one file.

Format: ``v1.<payload>.<signature>``, each part base64url without padding; the payload is JSON
``{"sub": customer_id, "iat": issued, "exp": expires}`` (Unix seconds) and the signature is HMAC-SHA256
over ``v1.<payload>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

VERSION = "v1"
MAX_LIFETIME = 24 * 3600  # a token that claims to live longer than this was not made by our website
CLOCK_SKEW = 60  # seconds a token's issue time may lie in the future (servers' clocks differ a little)
MIN_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 2048


class InvalidToken(ValueError):
    """The token is not one our website signed, or no longer valid. The message says why, for the log."""


@dataclass(frozen=True)
class WebIdentity:
    customer_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str) -> bytes:
    key = secret.encode()
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"WEB_IDENTITY_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
    return key


def _signature(secret: str, signed: str) -> str:
    return _b64(hmac.new(_key(secret), signed.encode(), hashlib.sha256).digest())


def sign(secret: str, customer_id: str, ttl_seconds: int = 3600, now: float | None = None) -> str:
    """A token saying the website's signed-in customer is `customer_id`, valid for `ttl_seconds`."""
    if not customer_id:
        raise ValueError("a token needs a customer id")
    if not 0 < ttl_seconds <= MAX_LIFETIME:
        raise ValueError(f"a token lives between 1 s and {MAX_LIFETIME} s")
    issued = int(time.time() if now is None else now)
    payload = _b64(json.dumps({"sub": customer_id, "iat": issued, "exp": issued + ttl_seconds}).encode())
    signed = f"{VERSION}.{payload}"
    return f"{signed}.{_signature(secret, signed)}"


def verify(secret: str, token: object, now: float | None = None) -> WebIdentity:
    """The identity in `token`, or InvalidToken saying why it is refused."""
    if not isinstance(token, str) or not token:
        raise InvalidToken("no token")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidToken("not a v1 token")
    signed = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_signature(secret, signed), parts[2]):
        raise InvalidToken("bad signature")
    try:
        claims = json.loads(_unb64(parts[1]))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidToken("unreadable payload") from None
    if not isinstance(claims, dict):
        raise InvalidToken("unreadable payload")
    subject, issued, expires = claims.get("sub"), claims.get("iat"), claims.get("exp")
    if not isinstance(subject, str) or not subject or len(subject) > 64:
        raise InvalidToken("no customer id")
    if not isinstance(issued, int) or not isinstance(expires, int) or isinstance(issued, bool):
        raise InvalidToken("no validity period")
    current = time.time() if now is None else now
    if expires <= current:
        raise InvalidToken("expired")
    if issued > current + CLOCK_SKEW or expires - issued > MAX_LIFETIME:
        raise InvalidToken("implausible validity period")
    return WebIdentity(subject, expires)
