"""The console's sign-in, sessions, roles and CSRF protection, over HTTP against the app under uvicorn.

`test_every_route_follows_its_policy` walks the app's routes, so routes added later are covered without
changing this file: a route's expected role comes from its own dependencies (`require_admin` -> admin,
`current_agent` -> any signed-in agent), and a route with neither that is not in PUBLIC_PATHS fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, iter_route_contexts
from sse_starlette import EventSourceResponse

from analytics.service import SqlAnalytics
from console.app import create_app
from console.deps import SESSION_COOKIE
from console.policy import PUBLIC_PATHS, check_route_policy, required_role
from console.routes.auth import LOGIN_CSRF_COOKIE
from handoff.agents import LOGIN_LIMITS, LOGIN_WINDOW, SqlAgentService
from handoff.service import OpeningHours, SqlHandoffService
from history.timeline import SqlHistoryService
from nlu_review.queue import ReviewQueue
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.console_client import LOGIN_CSRF, post_login
from tests.help_centre import knowledge_at
from tests.workspace import workspace_audit, workspace_desk, workspace_directory
from workspace.canned import CannedResponses
from workspace.live import LiveConversations
from workspace.sla import ResponseTargets
from workspace.summary import ConversationSummaries

pytestmark = pytest.mark.integration
ADMIN_PASSWORD = "an admin's long password"
AGENT_PASSWORD = "an agent's long password"
SAFE = {"GET", "HEAD", "OPTIONS"}


@dataclass
class Console:
    url: str
    app: FastAPI
    agents: SqlAgentService
    ids: dict[str, int]  # username -> agent id

    def session(self, username: str) -> tuple[dict[str, str], str]:
        """A fresh session of this user: (cookies, CSRF token)."""
        token, csrf = self.agents.start_session(self.ids[username])
        return {SESSION_COOKIE: token}, csrf

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + path, allow_redirects=False, timeout=10, **kwargs)

    def login(self, form: dict[str, str]) -> requests.Response:
        """POST /login with `form`, from a fresh browser that opened the sign-in form first."""
        return post_login(self.url, form, allow_redirects=False)

    def sign_in(self, username: str, password: str, next_: str | None = None) -> requests.Session:
        browser = requests.Session()
        form = {"username": username, "password": password} | ({"next": next_} if next_ is not None else {})
        response = post_login(self.url, form, http=browser, allow_redirects=False)
        assert response.status_code == 303, response.text
        return browser


def build_app(sql: SqlCrm, agents: SqlAgentService, secure_cookies: bool = False, **more: Any) -> FastAPI:
    """The console as the composition root builds it, on `sql`; `more` replaces any of its services."""
    handoffs = SqlHandoffService(sql.sessions)
    services: dict[str, Any] = {
        "handoffs": handoffs,
        "reviews": ReviewQueue(sql.sessions),
        "knowledge": knowledge_at(sql.url, clock=sql.clock),
        "audit": workspace_audit(sql),
        "customers": workspace_directory(sql),
        "live": LiveConversations(sql.sessions),
        "handoff_desk": workspace_desk(sql, handoffs, agents),
        "canned": CannedResponses(sql.sessions),
        "summaries": ConversationSummaries(sql.sessions),
        "targets": ResponseTargets(sql.sessions, OpeningHours.parse("always")),
        "pulse_interval": 0.1,
    }
    return create_app(
        SqlAnalytics(sql.sessions), SqlHistoryService(sql.sessions), agents, secure_cookies, **(services | more)
    )


@pytest.fixture
def console(sqlite_crm: SqlCrm) -> Iterator[Console]:
    with running_console(sqlite_crm) as running:
        yield running


@contextmanager
def running_console(sqlite_crm: SqlCrm) -> Iterator[Console]:
    """The console on `sqlite_crm` under uvicorn, with an admin ("admin") and an agent ("agent")."""
    agents = SqlAgentService(sqlite_crm.sessions)
    ids = {
        "admin": agents.create_agent("admin", "Ada Admin", ADMIN_PASSWORD, "admin").agent_id,
        "agent": agents.create_agent("agent", "Sam Taylor", AGENT_PASSWORD, "agent").agent_id,
    }
    app = build_app(sqlite_crm, agents)
    with serve(app) as url:
        yield Console(url, app, agents, ids)


# ---- the route policy ---------------------------------------------------------------


expected_role = required_role  # checked against the routes pinned in test_every_route_follows_its_policy


def protected_routes(app: FastAPI) -> list[tuple[APIRoute, str, str]]:
    """(route, method, role) for every route outside PUBLIC_PATHS; fails on a route without a policy."""
    found = []
    for entry in iter_route_contexts(app.routes):  # routes of included routers too
        route, path = entry.original_route, entry.path
        if path in PUBLIC_PATHS:
            continue
        assert isinstance(route, APIRoute), f"{route!r} is not public and cannot declare an auth dependency"
        role = expected_role(route)
        assert role is not None, (
            f"{sorted(route.methods)} {route.path} has neither a public mark (PUBLIC_PATHS) nor an auth dependency "
            "(current_agent / require_admin)"
        )
        found += [(route, method, role) for method in sorted(route.methods)]
    return found


def concrete(route: APIRoute) -> str:
    path = route.path_format
    for param in route.dependant.path_params:
        path = path.replace("{" + param.name + "}", "1")
    return path


def is_html(route: APIRoute) -> bool:
    return route.response_class is HTMLResponse


def is_stream(route: APIRoute) -> bool:
    return route.response_class is EventSourceResponse


def sent_to_login(response: requests.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login")


def test_every_route_follows_its_policy(console: Console) -> None:
    routes = protected_routes(console.app)
    assert {(r.path, m, role) for r, m, role in routes} >= {
        ("/", "GET", "agent"),
        ("/logout", "POST", "agent"),
        ("/analytics", "GET", "admin"),
        ("/analytics/report.csv", "GET", "admin"),
        ("/analytics/conversations/{conversation_id}", "GET", "admin"),
        ("/handoffs", "GET", "agent"),
        ("/handoffs/{handoff_id}/take", "POST", "agent"),
        ("/handoffs/{handoff_id}/reply", "POST", "agent"),
        ("/handoffs/{handoff_id}/close", "POST", "agent"),
        ("/reviews", "GET", "agent"),
        ("/reviews/{review_id}", "POST", "agent"),
        ("/knowledge", "GET", "admin"),
        ("/knowledge/new", "GET", "admin"),
        ("/knowledge/new", "POST", "admin"),
        ("/knowledge/{slug}", "GET", "admin"),
        ("/knowledge/{slug}", "POST", "admin"),
        ("/knowledge/gaps", "GET", "admin"),
        ("/handoffs/{handoff_id}/propose", "POST", "agent"),
        ("/customers", "GET", "agent"),
        ("/customers/{customer_id}", "GET", "agent"),
        ("/customers/{customer_id}/conversations/{conversation_id}", "GET", "agent"),
        ("/audit", "GET", "admin"),
        ("/events", "GET", "agent"),
        ("/live", "GET", "agent"),
        ("/live/{conversation_id}/join", "POST", "agent"),
        ("/handoffs/{handoff_id}/events", "GET", "agent"),
        ("/handoffs/{handoff_id}/suggestions", "GET", "agent"),
        ("/handoffs/{handoff_id}/assign", "POST", "agent"),
        ("/canned", "GET", "admin"),
        ("/canned", "POST", "admin"),
        ("/canned/{shortcut}", "GET", "admin"),
        ("/canned/{shortcut}", "POST", "admin"),
        ("/team", "GET", "admin"),
        ("/team/{agent_id}/capacity", "POST", "admin"),
        ("/team/targets", "POST", "admin"),
    }
    for route, method, role in routes:
        path, where = concrete(route), f"{method} {route.path}"

        anonymous = console.request(method, path)
        if method == "GET" and is_html(route):
            assert sent_to_login(anonymous), where
            assert anonymous.headers["location"] in ("/login", f"/login?next={path.replace('/', '%2F')}"), where
        else:
            assert anonymous.status_code == 401, where
            if not is_html(route):
                assert anonymous.json() == {"detail": "Sign in first."}, where
        forged = console.request(method, path, cookies={SESSION_COOKIE: "not-a-session"})
        assert forged.status_code == anonymous.status_code, where

        for username in ("agent", "admin"):
            cookies, csrf = console.session(username)
            headers = {} if method in SAFE else {"X-CSRF-Token": csrf}
            # a stream of server-sent events goes on: read its head, then hang up
            response = console.request(method, path, cookies=cookies, headers=headers, stream=is_stream(route))
            response.close()
            if role == "admin" and username == "agent":
                assert response.status_code == 403, where
                continue
            assert response.status_code not in (401, 403) and not (method in SAFE and sent_to_login(response)), where
            if method == "GET" and not route.dependant.path_params:
                assert response.status_code == 200, where
                html = "text/html" in response.headers["content-type"]
                assert html == is_html(route), f"{where}: declare response_class=HTMLResponse on HTML pages"
                events = response.headers["content-type"].startswith("text/event-stream")
                assert events == is_stream(route), f"{where}: declare response_class=EventSourceResponse on streams"

        if method not in SAFE:  # a request that changes state needs the session's CSRF token
            cookies, csrf = console.session("admin")
            assert console.request(method, path, cookies=cookies).status_code == 403, where
            wrong = {"X-CSRF-Token": csrf[::-1]}
            assert console.request(method, path, cookies=cookies, headers=wrong).status_code == 403, where
            assert console.request(method, path, cookies=cookies, data={"csrf": "x"}).status_code == 403, where


def test_public_paths_need_no_session(console: Console) -> None:
    assert console.request("GET", "/health").json() == {"status": "ok"}
    assert console.request("GET", "/login").status_code == 200


def test_the_app_refuses_a_route_without_a_policy(console: Console) -> None:
    check_route_policy(console.app)

    @console.app.get("/forgotten")
    def forgotten() -> str:
        return "no dependency"

    with pytest.raises(RuntimeError, match="/forgotten"):
        check_route_policy(console.app)


def test_the_app_refuses_a_router_route_without_a_policy(console: Console) -> None:
    router = APIRouter()

    @router.post("/forgotten-in-a-router")
    def forgotten() -> str:
        return "no dependency"

    console.app.include_router(router)
    with pytest.raises(RuntimeError, match="POST /forgotten-in-a-router"):
        check_route_policy(console.app)


# ---- signing in and out -------------------------------------------------------------


def test_signing_in_sets_a_strict_http_only_cookie_and_shows_who_is_signed_in(console: Console) -> None:
    response = console.login({"username": "Agent", "password": AGENT_PASSWORD})
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/" in cookie and "Secure" not in cookie

    token = response.cookies[SESSION_COOKIE]
    home = console.request("GET", "/", cookies={SESSION_COOKIE: token})
    assert home.status_code == 200 and home.headers["cache-control"] == "no-store"
    assert 'id="signed-in-as">Sam Taylor<' in home.text and 'id="role">agent<' in home.text
    assert 'href="/analytics"' not in home.text  # analytics is for admins
    admin_home = console.request("GET", "/", cookies=console.session("admin")[0])
    assert 'href="/analytics"' in admin_home.text and "Ada Admin" in admin_home.text


def test_secure_cookies(sqlite_crm: SqlCrm) -> None:
    agents = SqlAgentService(sqlite_crm.sessions)
    agents.create_agent("admin", "Ada Admin", ADMIN_PASSWORD, "admin")
    with serve(build_app(sqlite_crm, agents, secure_cookies=True)) as url:
        response = post_login(url, {"username": "admin", "password": ADMIN_PASSWORD}, allow_redirects=False)
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]
    with serve(build_app(sqlite_crm, agents, secure_cookies=True)) as url:
        form = requests.get(f"{url}/login", timeout=10)
    assert form.headers["set-cookie"].startswith(f"{LOGIN_CSRF_COOKIE}=") and "Secure" in form.headers["set-cookie"]


def test_the_login_form_carries_a_token_bound_to_a_pre_session_cookie(console: Console) -> None:
    form = requests.get(f"{console.url}/login", timeout=10)
    cookie = form.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/login" in cookie
    token = LOGIN_CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    assert token == form.cookies[LOGIN_CSRF_COOKIE]
    again = requests.get(f"{console.url}/login", cookies={LOGIN_CSRF_COOKIE: token}, timeout=10)
    assert LOGIN_CSRF.search(again.text).group(1) == token  # type: ignore[union-attr]  # a second tab's form works too
    other = LOGIN_CSRF.search(requests.get(f"{console.url}/login", timeout=10).text).group(1)  # type: ignore[union-attr]
    assert other != token  # each browser its own


def test_a_login_post_without_the_forms_token_is_refused(console: Console) -> None:
    """Login CSRF: another site's page posting the console's sign-in form (with the attacker's own account)
    would sign the agent's browser in as the attacker."""
    form = {"username": "agent", "password": AGENT_PASSWORD}
    token = LOGIN_CSRF.search(requests.get(f"{console.url}/login", timeout=10).text).group(1)  # type: ignore[union-attr]
    for data, cookies in [
        (form, {}),  # a cross-site form: no token, and the SameSite cookie is not sent
        (form | {"csrf": token}, {}),  # a token without its cookie
        (form, {LOGIN_CSRF_COOKIE: token}),  # the cookie without the form's field
        (form | {"csrf": token}, {LOGIN_CSRF_COOKIE: token[::-1]}),  # another browser's cookie
        (form | {"csrf": ""}, {LOGIN_CSRF_COOKIE: ""}),
    ]:
        response = console.request("POST", "/login", data=data, cookies=cookies)
        assert response.status_code == 403 and "reload the page" in response.text, (data, cookies)
        assert "set-cookie" not in response.headers
    assert console.login(form).status_code == 303


def test_wrong_passwords_are_throttled_whether_or_not_the_username_exists(console: Console) -> None:
    """Guessing: 30 wrong passwords in a row used to be answered as fast as they came, then the right one worked."""
    for username in ("agent", "nobody"):
        for _ in range(LOGIN_LIMITS["user"]):
            assert console.login({"username": username, "password": "a wrong password"}).status_code == 401
        refused = console.login({"username": username, "password": AGENT_PASSWORD})
        assert refused.status_code == 429 and "set-cookie" not in refused.headers
        assert 0 < int(refused.headers["retry-after"]) <= LOGIN_WINDOW.total_seconds()
        assert re.search(r'id="login-error">Too many sign-in attempts. Wait 5 minutes and try again.<', refused.text)
    assert console.login({"username": "admin", "password": ADMIN_PASSWORD}).status_code == 303  # others get in


def test_a_successful_sign_in_clears_the_usernames_count(console: Console) -> None:
    for _ in range(2):
        for _ in range(LOGIN_LIMITS["user"] - 1):
            assert console.login({"username": "agent", "password": "a wrong password"}).status_code == 401
        assert console.login({"username": "agent", "password": AGENT_PASSWORD}).status_code == 303


def test_an_address_trying_many_usernames_is_throttled(console: Console) -> None:
    for i in range(LOGIN_LIMITS["addr"]):
        assert console.login({"username": f"user{i}", "password": "a wrong password"}).status_code == 401
    refused = console.login({"username": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


def test_a_wrong_password_or_unknown_user_gets_a_401_and_no_cookie(console: Console) -> None:
    messages = []
    for username, password in [("admin", AGENT_PASSWORD), ("nobody", ADMIN_PASSWORD), ("admin", "")]:
        response = console.login({"username": username, "password": password})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers and not response.cookies
        messages.append(re.search(r'id="login-error">([^<]*)<', response.text).group(1))  # type: ignore[union-attr]
    assert len(set(messages)) == 1  # the same words whichever part was wrong
    assert "match an active account" in messages[0]
    console.agents.deactivate("agent")
    refused = console.login({"username": "agent", "password": AGENT_PASSWORD})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers


def test_signing_out_ends_the_session(console: Console) -> None:
    browser = console.sign_in("admin", ADMIN_PASSWORD)
    old_cookie = browser.cookies[SESSION_COOKIE]
    home = browser.get(f"{console.url}/", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]

    signed_out = browser.post(f"{console.url}/logout", data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    assert SESSION_COOKIE not in browser.cookies  # the browser is told to forget it...
    old = {SESSION_COOKIE: old_cookie}  # ...and the old cookie no longer works anywhere
    assert sent_to_login(console.request("GET", "/analytics", cookies=old))
    assert console.request("GET", "/analytics/report.csv", cookies=old).status_code == 401


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    browser = console.sign_in("agent", AGENT_PASSWORD)
    refused = browser.post(f"{console.url}/logout", data={}, allow_redirects=False, timeout=10)
    assert refused.status_code == 403 and "reload the page" in refused.text
    assert browser.get(f"{console.url}/", allow_redirects=False, timeout=10).status_code == 200  # still signed in
    home = browser.get(f"{console.url}/", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text).group(1)  # type: ignore[union-attr]
    by_header = browser.post(f"{console.url}/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False, timeout=10)
    assert by_header.status_code == 303


def test_an_agent_gets_a_403_page_on_admin_pages(console: Console) -> None:
    page = console.request("GET", "/analytics", cookies=console.session("agent")[0])
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "This page is for admins." in page.text and "Sam Taylor" in page.text


def test_after_signing_in_the_page_asked_for_opens(console: Console) -> None:
    asked = console.request("GET", "/analytics?start=2026-11-01&tier=vip")
    assert sent_to_login(asked)
    next_ = parse_qs(urlsplit(asked.headers["location"]).query)["next"][0]
    assert next_ == "/analytics?start=2026-11-01&tier=vip"
    form = console.request("GET", asked.headers["location"])
    assert f'name="next" value="{next_.replace("&", "&amp;")}"' in form.text
    response = console.login({"username": "admin", "password": ADMIN_PASSWORD, "next": next_})
    assert response.status_code == 303 and response.headers["location"] == next_


@pytest.mark.parametrize(
    "next_",
    [
        "https://evil.example",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        " /x",
        "/\tevil",
    ],  # fmt: skip
)
def test_next_never_leaves_the_console(console: Console, next_: str) -> None:
    response = console.login({"username": "admin", "password": ADMIN_PASSWORD, "next": next_})
    assert response.status_code == 303 and response.headers["location"] == "/"
    form = console.request("GET", "/login", params={"next": next_})
    assert 'name="next" value="/"' in form.text
    signed_in = console.request("GET", "/login", params={"next": next_}, cookies=console.session("admin")[0])
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"


# ---- the review queue page -----------------------------------------------------------


def test_an_agent_labels_misunderstood_messages_on_the_review_page(
    console: Console, sqlite_crm: SqlCrm, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from tests.history_events import ingest_chats
    from tests.integration.test_review_queue import misunderstood_chat

    ingest_chats(sqlite_crm.sessions, tmp_path / "tracker.db", [misunderstood_chat()])
    queue = ReviewQueue(sqlite_crm.sessions)
    items = queue.list()
    legs = next(i for i in items if "wobbly legs" in i.text)
    parcel = next(i for i in items if "parcel" in i.text)
    agent = console.sign_in("agent", AGENT_PASSWORD)
    page = agent.get(f"{console.url}/reviews", timeout=10)
    assert page.status_code == 200 and "can u do sumthin bout the wobbly legs" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]

    def decide(item_id: int, **form: str) -> requests.Response:
        return agent.post(
            f"{console.url}/reviews/{item_id}", data={"csrf": csrf, **form}, allow_redirects=False, timeout=10
        )

    refused = decide(legs.review_id, decision="assign", intent="wobbly_furniture")
    assert refused.status_code == 422 and "not an intent of the bot" in refused.text
    assert decide(legs.review_id, decision="assign", intent="complain").status_code == 303
    assert decide(parcel.review_id, decision="dismiss").status_code == 303
    assert queue.list() == []
    [accepted] = queue.list("accepted")
    assert (accepted.text, accepted.intent, accepted.reviewer) == (legs.text, "complain", "agent")
    assert [i.review_id for i in queue.list("dismissed")] == [parcel.review_id]
    exported = tmp_path / "reviewed.csv"
    assert queue.export(exported) == 1 and "wobbly legs" in exported.read_text()
