"""Fuzzing the agent console (console/) and the demo shop's website (website/) on the running product.

Hostile query strings, path segments, form fields, cookies and bodies, signed out, as an agent and as an
admin (with the session's CSRF token, so the fields reach the handlers, and with broken ones). Every answer
must be a non-5xx, and no HTML page may carry a script or markup payload unescaped.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.console_client import login_token, post_login
from tests.e2e.stack import Stack
from tests.fuzz.conftest import (
    ADMIN_PASSWORD,
    AGENT_PASSWORD,
    SHOP_PASSWORD,
    FuzzCounts,
    assert_still_answers,
    tracebacks_since,
)
from tests.fuzz.hostile import ALL_TEXTS, SCRIPT_PAYLOADS, random_json_value, random_text
from tests.waiting import wait_for

pytestmark = pytest.mark.fuzz
CONSOLE, WEBSITE = "agent console", "demo website"
SEED = 20261126
CUSTOMER = "fuzz-console-customer"
DATE_RANGES = [
    ("2026-01-01", "2026-01-31"),
    ("0001-01-01", "0001-01-05"),
    ("9999-12-01", "9999-12-31"),
    ("2026-02-30", ""),
    ("", "0001-01-01"),
    ("2026-12-31", "2026-01-01"),
    ("1900-01-01", ""),
]
IDS = ["0", "-1", "1", "2", "999999", "9" * 30, str(2**63), str(2**63 - 1), "1.5", "1e3", "abc", "%00", "..", " 1"]


@dataclass
class Request:
    method: str
    path: str
    who: str  # "anonymous", "agent" or "admin"
    data: Any = None
    csrf: str = "valid"  # "valid", "none" or "wrong" (for requests that change state)
    cookies: dict[str, str] | None = None


def signed_in(url: str, username: str, password: str) -> tuple[requests.Session, str]:
    session = requests.Session()
    response = post_login(url, {"username": username, "password": password}, http=session)
    assert response.status_code == 200, response.text
    return session, re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)  # type: ignore[union-attr]


def cookie_text(value: str) -> str:
    """What a cookie can carry of `value` (an HTTP client refuses control characters in a header)."""
    return "".join(c for c in value if 0x20 < ord(c) < 0x7F and c != ";")[:4000]


def hostile_values(rng: random.Random, count: int) -> Iterator[str]:
    yield from ALL_TEXTS
    for _ in range(count):
        yield random_text(rng, rng.choice([40, 300, 5000]))


def console_requests(rng: random.Random, handoff: int, review: int, conversation: int) -> Iterator[Request]:
    values = list(hostile_values(rng, 80))
    # signing in, signed out
    for value in values:
        yield Request("GET", "/login?next=" + quote(value, safe=""), "anonymous")
        yield Request("POST", "/login", "anonymous", {"username": value, "password": value, "next": value})
        yield Request("POST", "/login", "anonymous", {"username": "admin", "password": value})
    for _ in range(60):
        body = rng.choice(
            [
                bytes(rng.randrange(256) for _ in range(rng.randint(0, 400))),
                random_text(rng, 500).encode("utf-8", "surrogatepass"),
                b"username=" + b"a" * 300_000,
                b"--x\r\nContent-Disposition: form-data; name=username\r\n\r\n" + b"a" * 1000,
            ]
        )
        yield Request("POST", "/login", "anonymous", body)
    # every page signed out, with junk cookies
    pages = ["/", "/analytics", "/analytics/report.csv", "/handoffs", "/reviews", f"/handoffs/{handoff}"]
    pages += [f"/handoffs/{handoff}/transcript", f"/analytics/conversations/{conversation}"]
    for page in pages:
        for value in values[:40]:
            yield Request("GET", page, "anonymous", cookies={"hearth_console": cookie_text(value)})
    # signed in: query strings, path ids and form fields
    for who in ("agent", "admin"):
        for value in values[:50]:
            v = quote(value, safe="")
            yield Request("GET", f"/analytics?start={v}&end={v}&channel={v}&tier={v}", who)
            yield Request("GET", f"/reviews?status={v}", who)
            yield Request("GET", f"/handoffs/{handoff}/transcript?after={v}", who)
            yield Request("GET", f"/login?next={v}", who)
        for start, end in DATE_RANGES:
            yield Request("GET", f"/analytics?start={start}&end={end}", who)
            yield Request("GET", f"/analytics/report.csv?start={start}&end={end}", who)
        for item in IDS:
            for path in ("/analytics/conversations/{}", "/handoffs/{}", "/handoffs/{}/transcript"):
                yield Request("GET", path.format(quote(item, safe="")), who)
            for path in ("/handoffs/{}/take", "/handoffs/{}/notes", "/handoffs/{}/tags", "/reviews/{}"):
                yield Request("POST", path.format(quote(item, safe="")), who, {"text": "x", "tags": "x"})
        for value in values:
            yield Request("POST", f"/handoffs/{handoff}/notes", who, {"text": value})
            yield Request("POST", f"/handoffs/{handoff}/tags", who, {"tags": ",".join([value] * rng.randint(1, 3))})
            yield Request("POST", f"/handoffs/{handoff}/close", who, {"outcome": value, "note": value})
            decision = rng.choice(["assign", value])
            yield Request("POST", f"/reviews/{review}", who, {"decision": decision, "intent": value})
        for value in values[:30]:
            yield Request("POST", f"/handoffs/{handoff}/reply", who, {"text": value})
        for _ in range(40):  # fields of the wrong shape: repeated, JSON, raw bytes
            data = rng.choice(
                [
                    [("text", random_text(rng)), ("text", random_text(rng))],
                    str(random_json_value(rng)).encode("utf-8", "surrogatepass"),
                    bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))),
                    {"text": "x" * 100_000, "tags": "t," * 50_000},
                ]
            )
            yield Request("POST", f"/handoffs/{handoff}/notes", who, data)
        for csrf in ("none", "wrong"):
            for path in (f"/handoffs/{handoff}/notes", "/logout", f"/reviews/{review}", f"/handoffs/{handoff}/take"):
                yield Request("POST", path, who, {"text": "x"}, csrf=csrf)


# The website's account forms: the page that hands out the CSRF token, where it posts, and its fields.
WEBSITE_FORMS = (
    ("/forgot", "/forgot", ("email",)),
    ("/register", "/register", ("first_name", "last_name", "email", "password", "password2")),
    ("/reset?token=x", "/reset", ("token", "password", "password2")),
    ("/register/confirm?token=x", "/register/confirm", ("token",)),
)


def website_requests(rng: random.Random) -> Iterator[tuple[str, str, Any, dict[str, str]]]:
    values = list(hostile_values(rng, 60))
    for value in values:
        yield "POST", "/signin", {"email": value, "password": value}, {}
        yield "POST", "/signin", {"email": "anna.berg@example.com", "password": value}, {}
        yield "GET", "/", None, {"juniper_session": cookie_text(value)}
        yield "GET", "/?q=" + quote(value, safe=""), None, {}
    for _ in range(40):
        forged = "|".join(cookie_text(random_text(rng, 60)) for _ in range(3))
        yield "GET", rng.choice(["/", "/signin"]), None, {"juniper_session": forged}
        yield "POST", "/signin", bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))), {}
    for path in ("/static/webchat.js?x=<script>", "/static/../app.py", "/static/%2e%2e/app.py", "/%00", "/signout"):
        yield "GET", path, None, {}
    yield "POST", "/signout", {"x": "y"}, {}
    yield "POST", "/signin", {"email": "a" * 300, "password": "p" * 1_000_000}, {}


def test_the_console_and_the_website_survive_hostile_requests(live_stack: Stack, fuzz_counts: FuzzCounts) -> None:
    stack, started, first_line = live_stack, time.monotonic(), len(live_stack.output)
    before = fuzz_counts.count(CONSOLE), fuzz_counts.count(WEBSITE)
    # a waiting handoff to act on, and review items and conversations from the REST fuzzing (or made here)
    agent, agent_csrf = signed_in(stack.console_url, "agent", AGENT_PASSWORD)  # someone online: a handoff waits
    stack.say(CUSTOMER, "hi")
    stack.say(CUSTOMER, "I want to talk to a person please")
    handoff = wait_for(lambda: stack.crm("SELECT id FROM handoffs WHERE sender_id = ?", CUSTOMER), timeout=30)[0][0]
    stack.say("fuzz-console-reviewed", "<script>window.__pwned=1</script> blorp zxcv")
    review = wait_for(lambda: stack.crm("SELECT id FROM nlu_reviews ORDER BY id DESC LIMIT 1"), timeout=60)[0][0]
    conversation = stack.crm("SELECT id FROM conversations ORDER BY id DESC LIMIT 1")[0][0]
    admin, admin_csrf = signed_in(stack.console_url, "admin", ADMIN_PASSWORD)
    browsers = {"agent": (agent, agent_csrf), "admin": (admin, admin_csrf)}
    signing_in = requests.Session()  # a signed-out browser that opened the sign-in form: its posts reach the handler
    login_csrf = login_token(signing_in, stack.console_url)

    unexpected: list[tuple[Any, ...]] = []
    for request in console_requests(random.Random(SEED), handoff, review, conversation):
        if request.who == "anonymous" and request.path == "/login" and isinstance(request.data, dict):
            client, csrf = signing_in, ""
            request.data = request.data | {"csrf": login_csrf}
        elif request.who == "anonymous":
            client, csrf = requests.Session(), ""
        else:
            client, csrf = browsers[request.who]
        headers = {}
        if request.method == "POST" and request.who != "anonymous":
            headers["X-CSRF-Token"] = {"valid": csrf, "wrong": csrf[::-1], "none": ""}[request.csrf]
            if request.csrf == "none":
                del headers["X-CSRF-Token"]
        if isinstance(request.data, bytes):
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = client.request(
            request.method,
            stack.console_url + request.path,
            data=request.data,
            headers=headers,
            cookies=request.cookies,
            allow_redirects=False,
            timeout=60,
        )
        fuzz_counts.record(CONSOLE, response.status_code)
        if response.status_code >= 500 or injected(response):
            unexpected.append((request, response.status_code, response.text[:300]))
    # the pages that show what was stored: notes, tags and the transcript escaped
    for client, _ in browsers.values():
        for page in (f"/handoffs/{handoff}", "/handoffs", "/reviews", f"/analytics/conversations/{conversation}"):
            response = client.get(stack.console_url + page, timeout=60)
            fuzz_counts.record(CONSOLE, response.status_code)
            if response.status_code >= 500 or injected(response):
                unexpected.append((page, response.status_code, response.text[:300]))
    # the sign-in throttling counted the wrong passwords above against this address: clear the counts so that
    # later sign-ins from it (the browser tests on this stack) are not refused
    stack.crm("DELETE FROM console_login_failures")
    console_done = time.monotonic()
    fuzz_counts.timed(CONSOLE, console_done - started)

    shop = requests.Session()
    for method, path, data, cookies in website_requests(random.Random(SEED + 1)):
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if isinstance(data, bytes) else {}
        response = shop.request(
            method, stack.website_url + path, data=data, headers=headers, cookies=cookies, allow_redirects=False
        )
        fuzz_counts.record(WEBSITE, response.status_code)
        shop.cookies.clear()
        if response.status_code >= 500 or injected(response):
            unexpected.append((method, path[:80], response.status_code, response.text[:300]))
    # the account forms, past their CSRF check: a browser that opened the form posts hostile values with its token
    rng = random.Random(SEED + 2)
    for value in list(hostile_values(rng, 40)):
        for page, action, fields in WEBSITE_FORMS:
            browser = requests.Session()
            opened = browser.get(stack.website_url + page, timeout=60)
            token = re.search(r'name="csrf" value="([^"]*)"', opened.text)
            data = {field: value for field in fields} | {"csrf": token.group(1) if token else ""}
            response = browser.post(stack.website_url + action, data=data, allow_redirects=False, timeout=60)
            for answer in (opened, response):
                fuzz_counts.record(WEBSITE, answer.status_code)
                if answer.status_code >= 500 or injected(answer):
                    unexpected.append(("POST", action, answer.status_code, answer.text[:300]))
    signed = shop.post(
        stack.website_url + "/signin", data={"email": "anna.berg@example.com", "password": SHOP_PASSWORD}
    )
    assert signed.status_code == 200 and "Anna" in signed.text  # the site still signs a customer in
    fuzz_counts.timed(WEBSITE, time.monotonic() - console_done)

    assert not unexpected, f"{len(unexpected)} unexpected answers, the first: {unexpected[:5]}"
    assert not tracebacks_since(stack, first_line), tracebacks_since(stack, first_line)[:3]
    assert_still_answers(stack, "fuzz-console-after")
    assert fuzz_counts.count(CONSOLE) - before[0] >= 2000 and fuzz_counts.count(WEBSITE) - before[1] >= 400


def injected(response: requests.Response) -> bool:
    """An HTML page that carries one of the script payloads as markup, unescaped."""
    if "text/html" not in response.headers.get("content-type", ""):
        return False
    return any(payload in response.text for payload in SCRIPT_PAYLOADS if "<" in payload)
