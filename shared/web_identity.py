"""Signed identity from the host website: who a web chat visitor is, vouched for by the site they signed in to.

The website signs a short token with a secret it shares with the Rasa server (WEB_IDENTITY_SECRET) and hands
it to the chat widget; the web chat connector checks it on every message. Only a token with a good signature,
a known version, a customer id and an expiry still in the future identifies anyone; everything else leaves the
visitor anonymous. Standard library only, so the website (app environment) and the Rasa server (Rasa
environment) share this one file.

A token also names the website sign-in it was made for (``sid``): signing out ends that sign-in on the server
(the CRM's website_sessions), and the action that recognises a website customer refuses a token whose sign-in
has ended, long before the token itself expires.

Format: ``v1.<payload>.<signature>``, each part base64url without padding; the payload is JSON
``{"sub": customer_id, "sid": sign_in_id, "iat": issued, "exp": expires}`` (Unix seconds; ``sid`` only in
tokens made for a sign-in) and the signature is HMAC-SHA256 over ``v1.<payload>``.
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
MAX_SIGN_IN_CHARS = 64


class InvalidToken(ValueError):
    """The token is not one our website signed, or no longer valid. The message says why, for the log."""


@dataclass(frozen=True)
class WebIdentity:
    customer_id: str
    expires_at: int
    sign_in: str | None = None  # the website sign-in the token was made for


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


def sign(
    secret: str, customer_id: str, ttl_seconds: int = 3600, now: float | None = None, sign_in: str | None = None
) -> str:
    """A token saying the website's signed-in customer is `customer_id`, valid for `ttl_seconds` (and, with
    `sign_in`, only as long as that sign-in lasts)."""
    if not customer_id:
        raise ValueError("a token needs a customer id")
    if not 0 < ttl_seconds <= MAX_LIFETIME:
        raise ValueError(f"a token lives between 1 s and {MAX_LIFETIME} s")
    if sign_in is not None and not 0 < len(sign_in) <= MAX_SIGN_IN_CHARS:
        raise ValueError("a sign-in id is 1 to 64 characters")
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": customer_id, "iat": issued, "exp": issued + ttl_seconds}
    if sign_in is not None:
        claims["sid"] = sign_in
    payload = _b64(json.dumps(claims).encode())
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
    sign_in = claims.get("sid")
    if sign_in is not None and (not isinstance(sign_in, str) or not 0 < len(sign_in) <= MAX_SIGN_IN_CHARS):
        raise InvalidToken("unreadable sign-in id")
    if not isinstance(issued, int) or not isinstance(expires, int) or isinstance(issued, bool):
        raise InvalidToken("no validity period")
    current = time.time() if now is None else now
    if expires <= current:
        raise InvalidToken("expired")
    if issued > current + CLOCK_SKEW or expires - issued > MAX_LIFETIME:
        raise InvalidToken("implausible validity period")
    return WebIdentity(subject, expires, sign_in)
