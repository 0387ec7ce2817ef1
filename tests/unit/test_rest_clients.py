"""Who may post to the REST channel (shared/rest_clients.py) and which pages may open the web chat
(shared/web_origins.py): parsing the settings, and authenticating a request's bearer token."""

from __future__ import annotations

import pytest

from hearth.settings import Settings
from shared import rest_clients, web_origins

pytestmark = pytest.mark.unit

APP, KIOSK = "a" * 32, "b" * 40


def test_clients_are_named_with_their_token_and_whether_they_vouch():
    clients = rest_clients.parse(f" shop-app:{APP}:vouches , kiosk:{KIOSK} ,")
    assert [(c.name, c.token, c.vouches) for c in clients] == [("shop-app", APP, True), ("kiosk", KIOSK, False)]
    assert rest_clients.parse(None) == () and rest_clients.parse("") == ()
    assert APP not in repr(clients)  # a log line or a traceback never shows a token


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("shop-app", "the token must be"),
        (f"shop-app:{'x' * 31}", "at least 32 characters"),
        (f"Shop App:{APP}", "the name must be"),
        (f"shop-app:{APP}:trusted", "only ':vouches' may follow"),
        (f"app:{APP},app:{KIOSK}", "given twice"),
        (f"app:{APP},kiosk:{APP}", "its own token"),
    ],
)
def test_a_malformed_setting_says_what_is_wrong_without_echoing_a_token(value: str, says: str):
    with pytest.raises(ValueError, match=says) as refused:
        rest_clients.parse(value)
    assert APP not in str(refused.value) and "REST_CLIENTS" in str(refused.value)
    with pytest.raises(ValueError, match="REST_CLIENTS"):  # every process refuses it at start
        Settings.from_env({"REST_CLIENTS": value})


def test_only_a_known_bearer_token_authenticates():
    clients = rest_clients.parse(f"shop-app:{APP}:vouches,kiosk:{KIOSK}")
    assert rest_clients.authenticate(clients, f"Bearer {KIOSK}") == clients[1]
    assert rest_clients.authenticate(clients, f"bearer   {APP} ") == clients[0]
    for header in (None, "", "Bearer", "Bearer ", f"Basic {APP}", f"Bearer {APP}x", f"Bearer {APP[:-1]}", APP):
        assert rest_clients.authenticate(clients, header) is None, header
    assert rest_clients.authenticate((), f"Bearer {APP}") is None  # no integration named: nobody gets in


def test_web_chat_origins_are_origins_and_never_every_page():
    assert web_origins.parse("https://shop.example.com, http://127.0.0.1:5080/,https://shop.example.com") == (
        "https://shop.example.com",
        "http://127.0.0.1:5080",
    )
    assert web_origins.parse(None) == ()
    for bad in ("*", "shop.example.com", "https://shop.example.com/chat", "ftp://shop.example.com", "https://"):
        with pytest.raises(ValueError, match="WEB_CHAT_ORIGINS"):
            web_origins.parse(bad)
    with pytest.raises(ValueError, match="WEB_CHAT_ORIGINS"):
        Settings.from_env({"WEB_CHAT_ORIGINS": "*"})


@pytest.mark.parametrize("header", ["Bearer éa", "Bearer \udce9a", f"Bearer {APP[:-1]}\udcff", "Bearer 令牌"])
def test_a_token_with_bytes_outside_ascii_is_unknown_rather_than_an_error(header: str):
    # The web server hands over a header's undecodable bytes as escaped surrogates; encoding those for the
    # comparison used to raise, and the REST channel answered 500 instead of 401.
    clients = rest_clients.parse(f"shop-app:{APP}:vouches")
    assert rest_clients.authenticate(clients, header) is None
