"""The demo website (website/app.py) under uvicorn: sign-in, the session cookie, and the identity token it
hands the chat widget only for a signed-in customer."""

from __future__ import annotations

import pytest
import requests

from shared.web_identity import sign, verify
from tests.asgi_server import serve
from tests.web_chat_client import widget_config
from website.app import SESSION_COOKIE, SiteSettings, create_app

pytestmark = pytest.mark.integration
SECRET = "s" * 40


class Site(requests.Session):
    """A browser-like client (cookies kept) of the demo website, served by uvicorn on a free port."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def request(self, method, path, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        return super().request(method, self.url + path, *args, **kwargs)


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    customers = {"anna@example.com": ("cus_anna", "Anna")}
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET, demo_password="pw")
    with serve(create_app(settings, customers.get)) as url, Site(url) as client:
        yield client


def test_the_page_hands_the_widget_a_token_only_for_a_signed_in_customer(site: Site):
    anonymous = widget_config(site.get("/").text)
    assert anonymous["customData"] == {} and anonymous["socketUrl"] == "http://rasa.example"

    wrong = site.post("/signin", data={"email": "anna@example.com", "password": "nope"}, allow_redirects=False)
    assert wrong.status_code == 401 and SESSION_COOKIE not in wrong.cookies
    assert site.post("/signin", data={"email": "bob@example.com", "password": "pw"}).status_code == 401

    ok = site.post("/signin", data={"email": "anna@example.com", "password": "pw"}, allow_redirects=False)
    assert ok.status_code == 303
    page = site.get("/").text
    assert "Signed in as Anna" in page
    token = widget_config(page)["customData"]["identity_token"]
    assert verify(SECRET, token).customer_id == "cus_anna"

    site.post("/signout")
    assert widget_config(site.get("/").text)["customData"] == {}


def test_a_tampered_session_cookie_signs_nobody_in(site: Site):
    site.post("/signin", data={"email": "anna@example.com", "password": "pw"})
    cookie = site.cookies[SESSION_COOKIE].strip('"')
    assert "Signed in as Anna" in site.get("/").text
    token, name, mac = cookie.split("|")
    for forged in (f"{token}|Mallory|{mac}", f"{sign(SECRET, 'cus_anna')}|Anna|{mac}", "garbage"):
        site.cookies.clear()
        site.cookies.set(SESSION_COOKIE, forged)
        page = site.get("/").text
        assert "Signed in as" not in page and widget_config(page)["customData"] == {}


def test_the_widget_script_is_served(site: Site):
    response = site.get("/static/webchat.js")
    assert response.status_code == 200 and "WebChat" in response.text[:2000]
