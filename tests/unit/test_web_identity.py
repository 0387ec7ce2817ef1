"""The website's signed identity token (shared/web_identity.py): only a genuine, current one names a customer."""

from __future__ import annotations

import json

import pytest

from shared import web_identity
from shared.web_identity import InvalidToken, sign, verify

pytestmark = pytest.mark.unit
SECRET = "s" * 40
NOW = 1_800_000_000


def test_a_signed_token_names_the_customer_until_it_expires():
    token = sign(SECRET, "cus_1", ttl_seconds=600, now=NOW)
    assert verify(SECRET, token, now=NOW + 599).customer_id == "cus_1"
    with pytest.raises(InvalidToken, match="expired"):
        verify(SECRET, token, now=NOW + 600)


def _resigned(token: str, change: dict, secret: str = SECRET) -> str:
    """The token with its claims changed and signed again with `secret`."""
    version, payload, _ = token.split(".")
    claims = {**json.loads(web_identity._unb64(payload)), **change}
    body = f"{version}.{web_identity._b64(json.dumps(claims).encode())}"
    return f"{body}.{web_identity._signature(secret, body)}"


@pytest.mark.parametrize(
    "token, why",
    [
        (sign("o" * 40, "cus_1", now=NOW), "bad signature"),  # another secret
        (sign(SECRET, "cus_1", now=NOW).replace("v1.", "v2.", 1), "not a v1 token"),
        (sign(SECRET, "cus_1", now=NOW)[:-2], "bad signature"),  # cut short
        ("v1.e30.xyz", "bad signature"),
        ("v1.only-two-parts", "not a v1 token"),
        ("", "no token"),
        (None, "no token"),
        ({"sub": "cus_1"}, "no token"),
        ("v1." + "a" * 3000 + ".b", "too long"),
    ],
)
def test_forged_tampered_and_malformed_tokens_are_refused(token, why):
    with pytest.raises(InvalidToken, match=why):
        verify(SECRET, token, now=NOW)


def test_a_changed_customer_id_breaks_the_signature():
    version, payload, signature = sign(SECRET, "cus_1", now=NOW).split(".")
    claims = json.loads(web_identity._unb64(payload))
    claims["sub"] = "cus_2"
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(SECRET, f"{version}.{web_identity._b64(json.dumps(claims).encode())}.{signature}", now=NOW)


@pytest.mark.parametrize(
    "change, why",
    [
        ({"exp": NOW + 10 * 24 * 3600}, "implausible"),  # lives longer than any token the website makes
        ({"iat": NOW + 3600, "exp": NOW + 7200}, "implausible"),  # issued in the future
        ({"sub": ""}, "no customer id"),
        ({"sub": 42}, "no customer id"),
        ({"exp": "soon"}, "no validity period"),
    ],
)
def test_implausible_claims_are_refused_even_when_signed(change, why):
    with pytest.raises(InvalidToken, match=why):
        verify(SECRET, _resigned(sign(SECRET, "cus_1", now=NOW), change), now=NOW)


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        sign("short", "cus_1")


def test_a_token_names_the_sign_in_it_was_made_for():
    token = sign(SECRET, "cus_1", ttl_seconds=600, now=NOW, sign_in="si_0123abcd")
    checked = verify(SECRET, token, now=NOW + 1)
    assert (checked.customer_id, checked.sign_in) == ("cus_1", "si_0123abcd")
    assert verify(SECRET, sign(SECRET, "cus_1", now=NOW), now=NOW + 1).sign_in is None
    with pytest.raises(ValueError):
        sign(SECRET, "cus_1", sign_in="")
    with pytest.raises(ValueError):
        sign(SECRET, "cus_1", sign_in="x" * 65)


@pytest.mark.parametrize("sign_in", ["", 7, ["si"], {"id": "si"}, "x" * 65, True])
def test_a_token_with_an_unreadable_sign_in_id_is_refused(sign_in: object):
    token = _resigned(sign(SECRET, "cus_1", now=NOW, sign_in="si_1"), {"sid": sign_in})
    with pytest.raises(InvalidToken, match="sign-in"):
        verify(SECRET, token, now=NOW + 1)


def test_the_sign_in_id_cannot_be_swapped_without_the_secret():
    version, payload, signature = sign(SECRET, "cus_1", now=NOW, sign_in="si_ended").split(".")
    claims = {**json.loads(web_identity._unb64(payload)), "sid": "si_still_active"}
    forged = f"{version}.{web_identity._b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(InvalidToken, match="bad signature"):
        verify(SECRET, forged, now=NOW + 1)
