"""Every CRM and agent endpoint needs authentication, walked from the apps' own route tables (so a route added
later is covered without changing this file), on a real, seeded SQLite CRM:

* the CRM API (crm_api.create_app): every route outside PUBLIC_CRM_API answers 401 without the bearer token,
  with a wrong one and with the right one under another scheme;
* the agent console (console.create_app): every route outside its PUBLIC_PATHS refuses the signed-out, a
  forged, an expired, an ended and a deactivated agent's session (redirect to /login for an HTML page, else
  401), and an agent gets 403 on what is for admins;
* the shop's website (website.create_app): every route must be one of the public pages listed in
  PUBLIC_WEBSITE (a new route, say a customer API, fails here until it is classified), and a signed-in
  customer gets nothing of another customer's from any of them, whatever ids they put in paths, query
  strings or bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

try:
    from fastapi.routing import iter_route_contexts
except ImportError:  # FastAPI before lazily included routers: `app.routes` lists every route

    def iter_route_contexts(routes: Any) -> Any:  # type: ignore[misc]
        return iter(routes)


from analytics.service import SqlAnalytics
from console.app import create_app as create_console
from console.deps import SESSION_COOKIE as CONSOLE_COOKIE
from console.policy import PUBLIC_PATHS as CONSOLE_PUBLIC_PATHS
from console.policy import required_role
from crm_adapter.sql.website_sessions import SqlWebsiteSignIns
from crm_api import create_app as create_crm_api
from handoff.agents import SESSION_HOURS, SqlAgentService
from handoff.service import SqlHandoffService
from history.timeline import SqlHistoryService
from nlu_review.queue import ReviewQueue
from relationship.service import SqlRelationshipService
from reviews.store import SqlReviewStore
from shared import web_identity
from tests.conftest import SqlCrm, sql_crm_at
from tests.web_chat_client import widget_config
from website.app import SESSION_COOKIE as WEBSITE_COOKIE
from website.app import SiteSettings, _session_secret, accounts_of
from website.app import create_app as create_website

pytestmark = pytest.mark.integration

TOKEN = "the-crm-api-token-0123456789abcdef"
ANNA, OMAR = "cus_demo_anna", "cus_demo_omar"

# The CRM API's routes that need no token: the process is up, and the contract's description (the
# OpenAPI document and its two viewers; docs/crm-rest-contract.md says they are public). No customer data.
PUBLIC_CRM_API = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

# The website is the shop's public face: every route is for anyone. Only these, and none reads the CRM for
# the visitor beyond the signed-in customer's own first name and id (in the widget's signed token).
PUBLIC_WEBSITE = {
    ("GET", "/"): "the shop's home page (the chat widget; a token for the signed-in customer only)",
    ("GET", "/signin"): "the sign-in form",
    ("POST", "/signin"): "signing in (email and password)",
    ("POST", "/signout"): "signing out",
    ("GET", "/forgot"): "asking for a password reset link (the same answer whether or not there is an account)",
    ("POST", "/forgot"): "asking for a password reset link (CSRF token)",
    ("GET", "/reset"): "the new password form of an emailed link",
    ("POST", "/reset"): "setting a new password with an emailed link (CSRF token)",
    ("GET", "/register"): "the new account form",
    ("POST", "/register"): "asking for a new account (CSRF token; the same answer whether or not there is one)",
    ("GET", "/register/confirm"): "the emailed confirmation link's page",
    ("POST", "/register/confirm"): "confirming a new account with an emailed link (CSRF token)",
    ("GET", "/static/webchat.js"): "the chat widget's script",
    ("GET", "/products/{sku}"): "a product page: the reviews customers agreed to show (first name, initial)",
    ("GET", "/help"): "the help centre: published articles, searchable",
    ("GET", "/help/{slug}"): "a published help article (drafts and unpublished ones are not found)",
    ("GET", "/health"): "readiness",
}

SAMPLE_PATH_VALUES = {  # what a path parameter gets: another customer's ids, where an id is asked for
    "customer_id": OMAR,
    "order_number": "JH100002",
    "channel": "rest",
    "sender_id": "someone-elses-chat",
    "conversation_id": "1",
    "handoff_id": "1",
    "review_id": "1",
    "slug": "gift-cards",
    "sku": "FUR-001",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlCrm]:
    with sql_crm_at(f"sqlite:///{tmp_path_factory.mktemp('auth') / 'crm.db'}", customers=12) as crm:
        yield crm


def concrete(path: str) -> str:
    """`path` with each parameter filled in (SAMPLE_PATH_VALUES)."""
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: SAMPLE_PATH_VALUES.get(m.group(1), "1"), path)


def routes_of(app: FastAPI) -> list[tuple[BaseRoute, str, str]]:
    """(route, method, path) for every route the app serves and each of its methods: routes of included
    routers too, with their prefixes (newer FastAPI keeps an included router as one entry of `app.routes`)."""
    found = []
    for entry in iter_route_contexts(app.routes):
        route = getattr(entry, "original_route", entry)
        path = getattr(entry, "path", None)
        assert path, f"{route!r} has no path"
        methods = sorted(getattr(entry, "methods", None) or {"GET"})
        found += [(route, method, path) for method in methods if method != "HEAD"]
    return found


# ---- the CRM API ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def crm_api(seeded: SqlCrm) -> Iterator[tuple[FastAPI, TestClient]]:
    app = create_crm_api(
        seeded.service,
        TOKEN,
        SqlHistoryService(seeded.sessions),
        SqlRelationshipService(seeded.sessions, secret="test-secret", clock=seeded.clock),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


WRONG_CREDENTIALS = {
    "none": {},
    "empty bearer": {"Authorization": "Bearer "},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "token with a suffix": {"Authorization": f"Bearer {TOKEN}x"},
    "token's prefix": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "another scheme": {"Authorization": f"Basic {TOKEN}"},
    "bare token": {"Authorization": TOKEN},
    "as a cookie": {"Cookie": f"token={TOKEN}"},
}


def test_every_crm_api_route_needs_the_bearer_token(crm_api: tuple[FastAPI, TestClient]) -> None:
    app, client = crm_api
    protected = [(r, m, p) for r, m, p in routes_of(app) if p not in PUBLIC_CRM_API]
    assert {(m, p) for _, m, p in protected} >= {
        ("GET", "/v1/customers/{customer_id}"),
        ("GET", "/v1/customers/{customer_id}/orders/{order_number}"),
        ("PATCH", "/v1/customers/{customer_id}/contact"),
        ("POST", "/v1/verifications/order"),
        ("POST", "/v1/verifications/code-requests"),
        ("GET", "/v1/customers/{customer_id}/timeline"),
        ("GET", "/v1/customers/{customer_id}/profile"),
        ("PUT", "/v1/identities/{channel}/{sender_id:path}"),
    }
    for route, method, path in protected:
        assert isinstance(route, APIRoute), f"{method} {path}: not a FastAPI route, so not behind the token"
        url = concrete(path)
        for name, headers in WRONG_CREDENTIALS.items():
            response = client.request(method, url, headers=headers, json={}, params={"token": TOKEN})
            where = f"{method} {path} ({name})"
            assert response.status_code == 401, where
            assert response.json()["error"]["code"] == "unauthorized", where
            assert response.headers["WWW-Authenticate"] == "Bearer", where
            assert OMAR not in response.text and "omar" not in response.text.lower(), where
        # with the token the route is reached (it may still refuse the empty body or the unknown record)
        granted = client.request(method, url, headers={"Authorization": f"Bearer {TOKEN}"}, json={})
        assert granted.status_code not in (401, 403), f"{method} {path} refuses its own token"


def test_the_crm_apis_public_routes_hold_no_customer_data(crm_api: tuple[FastAPI, TestClient]) -> None:
    app, client = crm_api
    public = {p for _, _, p in routes_of(app) if p in PUBLIC_CRM_API}
    assert public <= PUBLIC_CRM_API and "/health" in public
    for path in public:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "@example.com" not in response.text and "cus_demo" not in response.text, path


def test_the_crm_api_does_not_start_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from crm_api.app import app_from_env

    monkeypatch.delenv("CRM_API_TOKEN", raising=False)
    with pytest.raises(RuntimeError, match="CRM_API_TOKEN"):
        app_from_env()


# ---- the agent console -----------------------------------------------------------------------------


@dataclass
class Console:
    app: FastAPI
    client: TestClient
    agents: SqlAgentService
    seeded: SqlCrm

    def session(self, username: str) -> tuple[dict[str, str], str]:
        agent = next(a for a in self.agents.list_agents() if a.username == username)
        token, csrf = self.agents.start_session(agent.agent_id)
        return {CONSOLE_COOKIE: token}, csrf

    def call(self, method: str, path: str, cookies: dict[str, str], csrf: str | None = None) -> Any:
        self.client.cookies.clear()
        for name, value in cookies.items():
            self.client.cookies.set(name, value)
        headers = {"X-CSRF-Token": csrf} if csrf else {}
        return self.client.request(method, path, headers=headers, follow_redirects=False)


@pytest.fixture
def console(seeded: SqlCrm) -> Iterator[Console]:
    agents = SqlAgentService(seeded.sessions, clock=seeded.clock)
    for username, role in (("admin", "admin"), ("agent", "agent")):
        if username not in {a.username for a in agents.list_agents()}:
            agents.create_agent(username, username.title(), f"{username}'s long password", role)
    app = create_console(
        SqlAnalytics(seeded.sessions),
        SqlHistoryService(seeded.sessions),
        agents,
        handoffs=SqlHandoffService(seeded.sessions, clock=seeded.clock),
        reviews=ReviewQueue(seeded.sessions),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Console(app, client, agents, seeded)


def refused(route: APIRoute, method: str, response: Any) -> bool:
    """The console's answer to a request without a valid session: the sign-in page for an HTML page, else 401."""
    if method == "GET" and route.response_class is HTMLResponse:
        return response.status_code == 303 and response.headers["location"].startswith("/login")
    return response.status_code == 401


def test_every_console_route_refuses_anyone_without_a_valid_session(console: Console) -> None:
    # sessions that once were good: expired, ended (signed out), and of an agent since deactivated
    expired, expired_csrf = console.session("agent")
    console.seeded.clock.advance(hours=SESSION_HOURS, seconds=1)
    ended, ended_csrf = console.session("agent")
    console.agents.end_session(ended[CONSOLE_COOKIE])
    leaver_name = f"leaver{len(console.agents.list_agents())}"
    console.agents.create_agent(leaver_name, "Leaving Agent", "a leaver's long password", "agent")
    leaver, leaver_csrf = console.session(leaver_name)
    console.agents.deactivate(leaver_name)
    stale = {
        "no cookie": ({}, None),
        "forged cookie": ({CONSOLE_COOKIE: "a" * 43}, "b" * 43),
        "expired session": (expired, expired_csrf),
        "ended session": (ended, ended_csrf),
        "deactivated agent": (leaver, leaver_csrf),
        "a website customer's cookie": ({WEBSITE_COOKIE: "x|Anna|y"}, None),
    }
    checked = 0
    for route, method, path in routes_of(console.app):
        if path in CONSOLE_PUBLIC_PATHS:
            continue
        assert isinstance(route, APIRoute) and required_role(route), f"{method} {path} has no auth dependency"
        for name, (cookies, csrf) in stale.items():
            response = console.call(method, concrete(path), cookies, csrf)
            assert refused(route, method, response), f"{method} {path} ({name}): {response.status_code}"
            checked += 1
    assert checked >= 6 * 10


def test_an_agent_cannot_do_what_is_for_admins(console: Console) -> None:
    admin_only = [
        (r, m, p) for r, m, p in routes_of(console.app) if isinstance(r, APIRoute) and required_role(r) == "admin"
    ]
    assert {p for _, _, p in admin_only} >= {
        "/analytics",
        "/analytics/report.csv",
        "/analytics/conversations/{conversation_id}",
    }
    for _route, method, path in admin_only:
        cookies, csrf = console.session("agent")
        assert console.call(method, concrete(path), cookies, csrf).status_code == 403, f"{method} {path}"
        cookies, csrf = console.session("admin")
        assert console.call(method, concrete(path), cookies, csrf).status_code not in (401, 403), path


def test_the_console_publishes_no_api_description(console: Console) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert console.call("GET", path, {}).status_code == 404, path
    assert console.call("GET", "/health", {}).status_code == 200


# ---- the shop's website ------------------------------------------------------------------------------

SITE_SECRET = "the-website-identity-secret-0123456789abcdef"


@pytest.fixture
def website(seeded: SqlCrm) -> Iterator[tuple[FastAPI, TestClient]]:
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SITE_SECRET)
    sign_ins, reviews = SqlWebsiteSignIns(seeded.sessions), SqlReviewStore(seeded.sessions)
    app = create_website(settings, accounts_of(seeded.service), sign_ins, reviews)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client


def signed_in_as(client: TestClient, html: str) -> str | None:
    """Whom the widget's token on this page identifies (None: nobody)."""
    token = widget_config(html)["customData"].get("identity_token")
    return web_identity.verify(SITE_SECRET, token).customer_id if token else None


def omars_data(seeded: SqlCrm) -> list[str]:
    omar = seeded.service.get_customer(OMAR)
    return [OMAR, omar.email, omar.last_name, omar.phone or "-", omar.address or "-", "JH100002", "Omar"]


def test_every_website_route_is_a_public_page_on_the_list(website: tuple[FastAPI, TestClient]) -> None:
    app, client = website
    found = {(m, p) for _, m, p in routes_of(app)}
    unlisted = found - set(PUBLIC_WEBSITE)
    assert not unlisted, (
        f"website routes not classified: {sorted(unlisted)}. A page for anyone goes into PUBLIC_WEBSITE; "
        "one that shows a customer's data must check the signed-in customer, with a test here"
    )
    assert client.get("/health").json() == {"status": "ok"}
    assert signed_in_as(client, client.get("/").text) is None  # a visitor's page identifies nobody


def test_a_signed_in_customer_gets_nothing_of_another_customers_from_any_route(
    website: tuple[FastAPI, TestClient], seeded: SqlCrm
) -> None:
    app, client = website
    assert client.post("/signin", data={"email": "anna.berg@example.com", "password": "juniper"}).status_code == 200
    assert signed_in_as(client, client.get("/").text) == ANNA
    other = {"customer_id": OMAR, "sub": OMAR, "email": "omar.haddad@example.com", "identity": OMAR, "next": "/"}
    forbidden = omars_data(seeded)
    for _route, method, path in routes_of(app):
        if (method, path) in {("POST", "/signin"), ("POST", "/signout")}:
            continue  # signing in and out are tried below
        url = concrete(path)
        response = client.request(method, url, params=other, follow_redirects=False)
        where = f"{method} {path}"
        text = response.text if "javascript" not in response.headers.get("content-type", "") else ""
        assert not [x for x in forbidden if x in text], where
        if "text/html" in response.headers.get("content-type", ""):
            assert signed_in_as(client, text) == ANNA, where

    # signing in as Omar needs his password, whatever else the form carries; Anna stays Anna
    wrong = client.post("/signin", data={"email": "omar.haddad@example.com", "password": "guess", **other})
    assert wrong.status_code == 401 and not [x for x in forbidden if x in wrong.text]
    extra = client.post("/signin", data={**other, "email": "anna.berg@example.com", "password": "juniper"})
    assert signed_in_as(client, extra.text) == ANNA


def _cookie(
    first_name: str,
    customer_id: str,
    now: float | None = None,
    ttl: int = 3600,
    key: str = "",
    sign_in: str | None = "si_unknown",
) -> str:
    """A website session cookie as the site makes it (token|first name|MAC), with its key unless `key`, naming
    the website sign-in `sign_in`."""
    key = key or _session_secret(SITE_SECRET)
    token = web_identity.sign(key, customer_id, ttl, now=now, sign_in=sign_in)
    mac = hmac.new(key.encode(), f"{token}|{first_name}".encode(), hashlib.sha256).hexdigest()
    return f"{token}|{first_name}|{mac}"


@pytest.mark.parametrize(
    "cookie",
    [
        lambda sign_ins: _cookie("Omar", OMAR, now=time.time() - 9 * 3600, sign_in=sign_ins.start(OMAR, 3600)),
        lambda sign_ins: _cookie("Omar", OMAR, key="another-site's-key-that-is-long-enough-0123"),
        lambda sign_ins: web_identity.sign(SITE_SECRET, OMAR) + "|Omar|" + "0" * 64,  # the widget's key is not it
        lambda sign_ins: "garbage",
        lambda sign_ins: _cookie("Omar", OMAR, sign_in=None),  # well made, but for no sign-in
        lambda sign_ins: _cookie("Omar", OMAR),  # for a sign-in that never was
        lambda sign_ins: _cookie("Omar", OMAR, sign_in=sign_ins.start(ANNA, 3600)),  # for someone else's
        lambda sign_ins: _cookie("Omar", OMAR, sign_in=ended(sign_ins, OMAR)),  # kept from before he signed out
    ],
    ids=["expired", "forged", "signed-with-the-widget-key", "garbage", "no-sign-in", "unknown", "others", "ended"],
)
def test_a_stale_or_forged_website_cookie_signs_nobody_in(
    website: tuple[FastAPI, TestClient], seeded: SqlCrm, cookie: Any
) -> None:
    _, client = website
    sign_ins = SqlWebsiteSignIns(seeded.sessions)
    client.cookies.set(WEBSITE_COOKIE, cookie(sign_ins))
    page = client.get("/").text
    assert "Signed in as" not in page and signed_in_as(client, page) is None
    # the control: a good cookie, for a sign-in that lasts, signs Omar in
    client.cookies.set(WEBSITE_COOKIE, _cookie("Omar", OMAR, sign_in=sign_ins.start(OMAR, 3600)))
    assert signed_in_as(client, client.get("/").text) == OMAR


def ended(sign_ins: SqlWebsiteSignIns, customer_id: str) -> str:
    sign_in = sign_ins.start(customer_id, 3600)
    sign_ins.end(sign_in)
    return sign_in
