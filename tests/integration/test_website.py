"""The demo website (website/app.py) under uvicorn: sign-in, the session cookie, the identity token it
hands the chat widget only for a signed-in customer, and the headers that keep its pages out of caches and
frames."""

from __future__ import annotations

import re
import time

import pytest
import requests

from crm_adapter.sql.models import CustomerRow
from hearth.seed import DEMO_CUSTOMERS, seed
from shared.passwords import hash_password
from shared.web_identity import sign, verify
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.web_chat_client import widget_config
from website.app import SESSION_COOKIE, Account, SiteSettings, accounts_of, create_app

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
    customers = {
        "anna@example.com": Account("cus_anna", "Anna", hash_password("pw")),
        "bob@example.com": Account("cus_bob", "Bob", None),  # a customer without a website password
    }
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
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


# ---- per-customer passwords on the seeded CRM ---------------------------------------------------------


@pytest.fixture
def shop(sql_crm: SqlCrm):  # type: ignore[no-untyped-def]
    """The site on a CRM seeded as the product seeds it (the demo customers' password: "juniper")."""
    seed(sql_crm.sessions, customers=12)
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    with serve(create_app(settings, accounts_of(sql_crm.service))) as url, Site(url) as client:
        yield client


def signin(site: Site, email: str, password: str) -> requests.Response:
    return site.post("/signin", data={"email": email, "password": password}, allow_redirects=False)


def test_only_the_demo_customers_sign_in_and_each_with_their_own_hashed_password(shop: Site, sql_crm: SqlCrm):
    """Finding 2: the site signed in every customer of the CRM with the one shared demo password."""
    with sql_crm.sessions() as s:
        rows = s.query(CustomerRow).all()
    demo_ids = {d.customer_id for d in DEMO_CUSTOMERS}
    others = [row for row in rows if row.id not in demo_ids]
    assert others and all(row.website_password_hash is None for row in others)
    demo_hashes = [row.website_password_hash for row in rows if row.id in demo_ids]
    assert len(set(demo_hashes)) == 3 and all(h and h.startswith("scrypt$") and "juniper" not in h for h in demo_hashes)

    refused = signin(shop, others[0].email, "juniper")  # a customer who is not a demo customer
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.cookies
    assert widget_config(shop.get("/").text)["customData"] == {}

    for demo in DEMO_CUSTOMERS:
        shop.cookies.clear()
        assert signin(shop, demo.email, "juniper").status_code == 303
        page = shop.get("/").text
        assert verify(SECRET, widget_config(page)["customData"]["identity_token"]).customer_id == demo.customer_id


def test_an_unknown_email_and_a_wrong_password_get_the_same_answer_in_about_the_same_time(
    shop: Site, monkeypatch: pytest.MonkeyPatch
):
    import website.app as module

    checked: list[str] = []
    real = module.verify_password
    monkeypatch.setattr(module, "verify_password", lambda pw, encoded: checked.append(encoded) or real(pw, encoded))

    answers = {}
    for email, password in (("nobody@example.com", "juniper"), ("anna.berg@example.com", "not-juniper")):
        times, response = [], None
        for _ in range(5):
            start = time.perf_counter()
            response = signin(shop, email, password)
            times.append(time.perf_counter() - start)
        assert response is not None and response.status_code == 401 and SESSION_COOKIE not in response.cookies
        body = re.sub(r"nonce-[^;']+|nonce=\"[^\"]+\"|\"[0-9a-f]{16}\"", "", response.text)
        answers[email] = (body, min(times))
    (unknown_body, unknown_time), (wrong_body, wrong_time) = answers.values()
    assert unknown_body == wrong_body
    # one scrypt check each time, whether or not the email is a customer's
    assert len(checked) == 10 and all(encoded.startswith("scrypt$16384$8$1$") for encoded in checked)
    # so the fastest of each takes about as long (without the dummy hash an unknown email is many times faster)
    assert unknown_time > wrong_time / 3 and wrong_time > unknown_time / 3


def test_an_external_crm_has_no_website_accounts():
    class ExternalCrm:  # the HTTP CRM: customers by email perhaps, but no website passwords
        def customer_by_email(self, email: str) -> object:
            raise AssertionError("not asked")

    assert accounts_of(ExternalCrm())("anna.berg@example.com") is None
    assert accounts_of(object())("anna.berg@example.com") is None


def test_pages_are_not_cached_framed_or_open_to_other_scripts(site: Site):
    """Finding 8: pages carrying the widget's identity token had no Cache-Control, CSP or frame protection."""
    signin(site, "anna@example.com", "pw")
    for path in ("/", "/signin"):
        response = site.get(path)
        assert widget_config(response.text)["customData"]["identity_token"]
        headers = response.headers
        assert headers["Cache-Control"] == "no-store", path
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        policy = dict(
            (d.split(" ", 1) + [""])[:2] for d in (d.strip() for d in headers["Content-Security-Policy"].split(";"))
        )
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
        assert policy["connect-src"] == "'self' http://rasa.example ws://rasa.example"
        nonce = re.search(r"'nonce-([^']+)'", policy["script-src"])
        assert nonce and policy["script-src"] == f"'self' 'nonce-{nonce.group(1)}'"
        assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
        # every inline script that runs carries the page's nonce; the widget comes from the site itself
        scripts = re.findall(r"<script([^>]*)>", response.text)
        runnable = [attrs for attrs in scripts if 'type="application/json"' not in attrs]
        assert runnable and all(f'nonce="{nonce.group(1)}"' in attrs for attrs in runnable)
        assert '"/static/webchat.js"' in response.text
    assert site.get("/").headers["Content-Security-Policy"] != site.get("/").headers["Content-Security-Policy"]
    for path in ("/static/webchat.js", "/health"):
        headers = site.get(path).headers
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff", path
