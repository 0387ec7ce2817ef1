"""The HTTP backend when things go wrong, and the CRM API when clients do.

Part 1 points HttpCrmService at local servers that misbehave (refuse, hang, fail, send garbage,
drop the connection) and checks that callers only ever see the domain errors.
Part 2 sends bad requests to the real crm_api app under uvicorn: never a 500, always the
`{"error": {"code", "message", "field"}}` body.

401/403 surface as `CrmAuthenticationFailed`, a subclass of `CrmUnavailable`: actions degrade the
same way as for an outage, while the message (and the type, for logs and alerts) says to fix the token.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from crm_adapter.domain import (
    ContactField,
    CrmUnavailable,
    InvalidInput,
    NewTicket,
    NotAllowed,
    NotFound,
    OrderStatus,
    TicketKind,
    VerificationFailed,
)
from crm_adapter.http_backend import CrmAuthenticationFailed, HttpCrmService
from crm_adapter.sql.service import SqlCrmService
from crm_api import create_app
from tests.asgi_server import serve
from tests.conftest import sql_crm_at
from tests.factories import add_customer, add_order

pytestmark = pytest.mark.integration

TOKEN = "t0ken"


# ---- servers ----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeCrm:
    url: str
    requests: list[tuple[str, str, bytes]]


@contextmanager
def fake_crm(script: Callable[[int], Reply]) -> Iterator[FakeCrm]:
    """A scripted HTTP server: the n-th request (1-based) gets `script(n)`; requests are recorded."""
    seen: list[tuple[str, str, bytes]] = []
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
            reply = script(len(seen))
            if reply.delay:
                stop.wait(reply.delay)
            if reply.drop:
                self.close_connection = True
                return
            body = reply.body
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            data = body.encode() if isinstance(body, str) else body
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.headers.pop("Content-Type", "application/json"))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield FakeCrm(f"http://127.0.0.1:{server.server_address[1]}", seen)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def always(reply: Reply) -> Callable[[int], Reply]:
    return lambda n: reply


CUSTOMER_JSON = {
    "customer_id": "cus_1",
    "first_name": "Anna",
    "last_name": "Berg",
    "email": "anna@example.com",
    "phone": None,
    "address": None,
    "loyalty_points": 10,
}


def client(url: str, timeout: float = 2.0, token: str | None = None) -> HttpCrmService:
    session = requests.Session()
    if token is not None:
        session.headers["Authorization"] = f"Bearer {token}"
    return HttpCrmService(url, session=session, timeout=timeout)


# ---- part 1: HttpCrmService against failing servers -------------------------------------------


def test_connection_refused_is_unavailable_quickly() -> None:
    with socket.socket() as reserved:  # bound but never listening: connections are refused
        reserved.bind(("127.0.0.1", 0))
        service = client(f"http://127.0.0.1:{reserved.getsockname()[1]}", timeout=3)
        started = time.monotonic()
        with pytest.raises(CrmUnavailable, match="unreachable"):
            service.get_customer("cus_1")  # a GET: tried twice
        with pytest.raises(CrmUnavailable, match="unreachable"):
            service.open_ticket(NewTicket(kind=TicketKind.GENERAL, subject="Hi", description=""))
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("call", ["get_customer", "open_ticket"])
def test_a_server_slower_than_the_timeout_is_unavailable_within_the_timeout(call: str) -> None:
    with fake_crm(always(Reply(200, CUSTOMER_JSON, delay=5))) as fake:
        service = client(fake.url, timeout=0.5)
        started = time.monotonic()
        with pytest.raises(CrmUnavailable, match=r"did not answer within 0\.5s"):
            if call == "get_customer":
                service.get_customer("cus_1")
            else:
                service.open_ticket(NewTicket(kind=TicketKind.GENERAL, subject="Hi", description=""))
        elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.0  # one timeout: a read timeout is not retried
    assert len(fake.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize(
    "body", [{"error": {"code": "crm_unavailable", "message": "down", "field": None}}, "<html>Bad gateway</html>"]
)
def test_server_errors_are_unavailable_and_not_retried(status: int, body: Any) -> None:
    with fake_crm(always(Reply(status, body))) as fake:
        with pytest.raises(CrmUnavailable, match=f"HTTP {status}") as caught:
            client(fake.url).get_customer("cus_1")
    assert type(caught.value) is CrmUnavailable
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>It works!</html>", "not JSON"),
        ('{"customer_id": "cus_1", ', "not JSON"),
        (b"\xff\xfe\x00", "not JSON"),
        ("", r"customer: expected an object, got NoneType"),
        ("[]", "customer: expected an object, got list"),
        ('"cus_1"', "customer: expected an object, got str"),
        ({**CUSTOMER_JSON, "loyalty_points": "10"}, r"customer\.loyalty_points: unexpected str"),
        ({**CUSTOMER_JSON, "loyalty_points": True}, r"customer\.loyalty_points: unexpected bool"),
        ({k: v for k, v in CUSTOMER_JSON.items() if k != "email"}, r"customer\.email: missing"),
    ],
)
def test_invalid_or_unexpected_json_is_unavailable(body: Any, message: str) -> None:
    with fake_crm(always(Reply(200, body))) as fake:
        with pytest.raises(CrmUnavailable, match=message):
            client(fake.url).get_customer("cus_1")


ORDER_JSON = {
    "order_number": "JH100001",
    "customer_id": "cus_1",
    "status": "shipped",
    "placed_at": "2026-11-20T13:00:00+01:00",
    "expected_delivery": None,
    "delivered_at": "2026-11-21T09:30:00Z",
    "total_cents": 8900,
    "currency": "GBP",
    "carrier": "DPD",
    "tracking_number": None,
    "lines": [{"sku": "SKU0", "name": "Oak side table", "quantity": 1, "unit_price_cents": 8900}],
}


def test_timestamps_with_any_offset_become_naive_utc() -> None:
    with fake_crm(always(Reply(200, ORDER_JSON))) as fake:
        order = client(fake.url).get_order("cus_1", "JH100001")
    assert (order.status, order.placed_at, order.delivered_at, order.expected_delivery) == (
        OrderStatus.SHIPPED,
        datetime(2026, 11, 20, 12, 0),
        datetime(2026, 11, 21, 9, 30),
        None,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "lost_in_space"}, r"order\.status: unknown OrderStatus"),
        ({"placed_at": "yesterday"}, r"order\.placed_at: not an ISO 8601 timestamp"),
        ({"lines": [{"sku": "SKU0"}]}, r"order\.lines\[0\]\.name: missing"),
        ({"lines": None}, r"order\.lines: missing"),
    ],
)
def test_order_that_breaks_the_contract_is_unavailable(change: dict[str, Any], message: str) -> None:
    with fake_crm(always(Reply(200, {**ORDER_JSON, **change}))) as fake:
        with pytest.raises(CrmUnavailable, match=message):
            client(fake.url).get_order("cus_1", "JH100001")


def error(code: str, message: str = "", field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


@pytest.mark.parametrize(
    ("reply", "expected", "attributes"),
    [
        (Reply(404, error("not_found", "customer cus_1")), NotFound, {}),
        (Reply(409, error("order_shipped", "Order JH100001 is shipped.")), NotAllowed, {"reason": "order_shipped"}),
        (Reply(422, error("invalid_input", "Bad phone.", "phone")), InvalidInput, {"field": "phone"}),
        (Reply(422, error("verification_failed", "No match.")), VerificationFailed, {}),
        # a 404 that isn't about a record: wrong base URL, a proxy's page
        (Reply(404, error("unknown_endpoint", "Not Found")), CrmUnavailable, {}),
        (Reply(404, "<h1>Not Found</h1>", headers={"Content-Type": "text/html"}), CrmUnavailable, {}),
        (Reply(404, {"detail": "Not Found"}), CrmUnavailable, {}),
        (Reply(409, "conflict"), CrmUnavailable, {}),
        (Reply(400, error("bad_request")), CrmUnavailable, {}),
        (Reply(429, error("rate_limited")), CrmUnavailable, {}),
        (Reply(302, "", headers={"Location": "/login"}), CrmUnavailable, {}),
        (Reply(401, error("unauthorized")), CrmAuthenticationFailed, {}),
        (Reply(403, "Forbidden"), CrmAuthenticationFailed, {}),
    ],
)
def test_status_and_error_body_mapping(reply: Reply, expected: type[Exception], attributes: dict[str, str]) -> None:
    with fake_crm(always(reply)) as fake:
        with pytest.raises(expected) as caught:
            client(fake.url).update_contact("cus_1", ContactField.PHONE, "0770")
    assert type(caught.value) is expected
    for name, value in attributes.items():
        assert getattr(caught.value, name) == value
    assert len(fake.requests) == 1


def test_recognize_is_none_only_for_a_real_not_found() -> None:
    with fake_crm(always(Reply(404, error("not_found", "no identity")))) as fake:
        assert client(fake.url).recognize("rest", "s-1") is None
    with fake_crm(always(Reply(404, "<h1>Not Found</h1>"))) as fake:
        with pytest.raises(CrmUnavailable, match="CRM_HTTP_BASE_URL"):
            client(fake.url).recognize("rest", "s-1")


def test_get_is_retried_once_when_the_connection_drops() -> None:
    script = {1: Reply(drop=True), 2: Reply(200, CUSTOMER_JSON)}
    with fake_crm(lambda n: script.get(n, Reply(500))) as fake:
        customer = client(fake.url).get_customer("cus_1")
    assert customer.customer_id == "cus_1"
    assert [(method, path) for method, path, _ in fake.requests] == [("GET", "/v1/customers/cus_1")] * 2


def test_get_gives_up_after_the_second_dropped_connection() -> None:
    with fake_crm(always(Reply(drop=True))) as fake:
        with pytest.raises(CrmUnavailable, match="unreachable"):
            client(fake.url).list_orders("cus_1")
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.open_ticket(NewTicket(kind=TicketKind.GENERAL, subject="Hi", description="")),
        lambda s: s.update_contact("cus_1", ContactField.PHONE, "07700900456"),
        lambda s: s.cancel_order("cus_1", "JH100001"),
        lambda s: s.start_return("cus_1", "JH100001", "Too small"),
        lambda s: s.verify_one_time_code("anna@example.com", "123456"),
        lambda s: s.link_identity("cus_1", "rest", "s-1"),
        lambda s: s.unlink_identity("rest", "s-1"),
    ],
    ids=["open_ticket", "update_contact", "cancel_order", "start_return", "verify_code", "link", "unlink"],
)
def test_writes_are_never_retried(call: Callable[[HttpCrmService], object]) -> None:
    with fake_crm(always(Reply(drop=True))) as fake:
        with pytest.raises(CrmUnavailable):
            call(client(fake.url))
    assert len(fake.requests) == 1


class RecordingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append((method, url, kwargs))
        return super().request(method, url, *args, **kwargs)


def test_every_call_has_a_timeout_and_encodes_its_path_segments() -> None:
    session = RecordingSession()
    with fake_crm(always(Reply(503))) as fake:
        service = HttpCrmService(fake.url + "/", session=session, timeout=0.7)
        calls: list[Callable[[], object]] = [
            lambda: service.recognize("rest", "a/b?c#d%e ü"),
            lambda: service.link_identity("cus_1", "rest", ".."),
            lambda: service.unlink_identity("rest", "."),
            lambda: service.verify_with_order("a@example.com", "JH100001"),
            lambda: service.send_one_time_code("a@example.com"),
            lambda: service.verify_one_time_code("a@example.com", "123456"),
            lambda: service.get_customer("cus 1"),
            lambda: service.customer_context("cus_1"),
            lambda: service.update_contact("cus_1", ContactField.EMAIL, "b@example.com"),
            lambda: service.loyalty("cus_1"),
            lambda: service.list_orders("cus_1", limit=3),
            lambda: service.get_order("cus_1", "JH 100001"),
            lambda: service.cancel_order("cus_1", "JH100001"),
            lambda: service.start_return("cus_1", "JH100001", "Too small"),
            lambda: service.list_returns("cus_1"),
            lambda: service.open_ticket(NewTicket(kind=TicketKind.GENERAL, subject="Hi", description="")),
            lambda: service.list_tickets("cus_1", open_only=True),
        ]
        for call in calls:
            with pytest.raises(CrmUnavailable, match="HTTP 503"):
                call()
    assert len(session.calls) == len(calls) == 17  # a 5xx is never retried
    assert all(kwargs["timeout"] == 0.7 and kwargs["allow_redirects"] is False for _, _, kwargs in session.calls)
    paths = [path for _, path, _ in fake.requests]
    assert paths[0] == "/v1/identities/rest/a%2Fb%3Fc%23d%25e%20%C3%BC"
    assert paths[1:3] == ["/v1/identities/rest/..", "/v1/identities/rest/."]  # not resolved away
    assert paths[6] == "/v1/customers/cus%201"
    assert paths[10] == "/v1/customers/cus_1/orders?limit=3"
    assert paths[11] == "/v1/customers/cus_1/orders/JH%20100001"
    assert paths[16] == "/v1/customers/cus_1/tickets?open_only=true"


def test_ids_that_cannot_exist_are_not_found_without_a_request() -> None:
    session = RecordingSession()
    service = HttpCrmService("http://127.0.0.1:9", session=session, timeout=0.5)
    with pytest.raises(NotFound):
        service.get_customer("cus/1")
    with pytest.raises(NotFound):
        service.get_order("cus_1", "")
    assert service.recognize("web/chat", "s-1") is None  # as on the SQL backend: no such identity
    assert service.unlink_identity("web/chat", "s-1") is False
    with pytest.raises(InvalidInput):
        service.link_identity("cus_1", "web/chat", "s-1")
    assert session.calls == []


# ---- part 1b: authentication against the real app -------------------------------------------


@dataclass
class Api:
    url: str
    customer_id: str
    service: SqlCrmService


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """crm_api over SqlCrmService on a SQLite file, behind uvicorn, for the whole module."""
    with sql_crm_at(f"sqlite:///{tmp_path_factory.mktemp('crm_api') / 'crm.db'}") as crm:
        cid = add_customer(crm.sessions, email="anna.api@example.com")
        add_order(crm.sessions, cid, "JH300001", status="shipped")
        with serve(create_app(crm.service, token=TOKEN)) as base_url:
            yield Api(base_url, cid, crm.service)


@pytest.mark.parametrize("token", [None, "wrong", "", TOKEN.upper(), TOKEN + "x"])
def test_wrong_or_missing_token_is_a_clear_error(api: Api, token: str | None) -> None:
    service = client(api.url, token=token)
    with pytest.raises(CrmAuthenticationFailed, match="CRM_HTTP_TOKEN") as caught:
        service.get_customer(api.customer_id)
    assert isinstance(caught.value, CrmUnavailable)
    with pytest.raises(CrmAuthenticationFailed):
        service.recognize("rest", "s-1")  # not mistaken for "unknown identity"


def test_right_token_works(api: Api) -> None:
    assert client(api.url, token=TOKEN).get_customer(api.customer_id).email == "anna.api@example.com"


def test_wrong_base_url_is_unavailable_not_unknown(api: Api) -> None:
    service = client(api.url + "/v1", token=TOKEN)  # the contract's paths already start with /v1
    with pytest.raises(CrmUnavailable, match="CRM_HTTP_BASE_URL"):
        service.recognize("rest", "s-1")


# ---- part 2: the API never answers bad input with a 500 ------------------------------------------


def call_api(api: Api, method: str, path: str, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers.setdefault("Authorization", f"Bearer {token}")
    return requests.request(method, api.url + path, headers=headers, timeout=5, **kwargs)


def error_of(response: requests.Response) -> dict[str, Any]:
    """The `error` object; fails unless the body has exactly the contract's shape."""
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer ", TOKEN, f"Bearer {TOKEN}x"]
)
def test_api_without_the_token_is_401(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = call_api(api, "GET", f"/v1/customers/{api.customer_id}", token=None, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert error_of(response)["code"] == "unauthorized"


def test_api_checks_the_token_before_the_body(api: Api) -> None:
    response = call_api(api, "POST", "/v1/tickets", token=None, data=b"{not json")
    assert response.status_code == 401


def test_api_health_and_openapi_are_public(api: Api) -> None:
    assert call_api(api, "GET", "/health", token=None).json() == {"status": "ok"}
    spec = call_api(api, "GET", "/openapi.json", token=None).json()
    assert "/v1/customers/{customer_id}/orders/{order_number}/returns" in spec["paths"]
    assert call_api(api, "GET", "/docs", token=None).status_code == 200


@pytest.mark.parametrize(
    "body",
    [b'{"email": "a@example.com", ', b"{'email': 'a@example.com'}", b"\xff\xfe\x00", b"[" * 100_000 + b"]" * 100_000],
    ids=["truncated", "single-quotes", "not-utf8", "nested-too-deep"],
)
def test_api_malformed_json_is_422(api: Api, body: bytes) -> None:
    response = call_api(api, "POST", "/v1/verifications/order", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "invalid_json"
    assert error_of(response)["field"] == "body"


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/v1/verifications/order", {"email": 123, "order_number": "JH1"}, "email"),
        ("POST", "/v1/verifications/order", {"email": "a@example.com"}, "order_number"),
        ("POST", "/v1/verifications/order", ["a@example.com", "JH1"], "body"),
        ("POST", "/v1/verifications/order", None, "body"),
        ("POST", "/v1/verifications/code-requests", {"email": ["a@example.com"]}, "email"),
        ("POST", "/v1/verifications/code", {"email": "a@example.com", "code": 123456}, "code"),
        ("PATCH", "/v1/customers/{cid}/contact", {"field": "twitter", "value": "@anna"}, "field"),
        ("PATCH", "/v1/customers/{cid}/contact", {"field": "email", "value": None}, "value"),
        ("POST", "/v1/customers/{cid}/orders/JH300001/returns", {"reason": {"text": "small"}}, "reason"),
        ("POST", "/v1/tickets", {"kind": "rant", "subject": "x"}, "kind"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": ["x"]}, "subject"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": ""}, "subject"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": "x", "channel": "web chat"}, "channel"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": "x", "customer_id": 7}, "customer_id"),
        ("PUT", "/v1/identities/rest/s-1", {"customer_id": 42}, "customer_id"),
        ("PUT", "/v1/identities/rest/s-1", {}, "customer_id"),
        ("GET", "/v1/identities/web%20chat/s-1", None, "channel"),
        ("GET", "/v1/identities/rest/", None, "sender_id"),
        ("GET", "/v1/customers/{cid}/orders?limit=abc", None, "limit"),
        ("GET", "/v1/customers/{cid}/orders?limit=0", None, "limit"),
        ("GET", "/v1/customers/{cid}/orders?limit=51", None, "limit"),
        ("GET", "/v1/customers/{cid}/tickets?open_only=maybe", None, "open_only"),
    ],
)
def test_api_wrong_types_are_422(api: Api, method: str, path: str, payload: Any, field: str) -> None:
    kwargs: dict[str, Any] = {} if payload is None and method == "GET" else {"json": payload}
    response = call_api(api, method, path.format(cid=api.customer_id), **kwargs)
    assert response.status_code == 422, response.text
    assert error_of(response) == {"code": "invalid_input", "message": error_of(response)["message"], "field": field}
    assert error_of(response)["message"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "field"),
    [
        ("POST", "/v1/verifications/order", {"email": "a" * 321, "order_number": "JH1"}, "email"),
        ("POST", "/v1/verifications/order", {"email": "a@example.com", "order_number": "J" * 65}, "order_number"),
        ("POST", "/v1/verifications/code", {"email": "a@example.com", "code": "1" * 33}, "code"),
        ("PATCH", "/v1/customers/{cid}/contact", {"field": "address", "value": "1 High St " * 101}, "value"),
        ("POST", "/v1/customers/{cid}/orders/JH300001/returns", {"reason": "r" * 5001}, "reason"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": "s" * 1001}, "subject"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": "s", "description": "d" * 20001}, "description"),
        ("POST", "/v1/tickets", {"kind": "general", "subject": "s", "sender_id": "x" * 256}, "sender_id"),
        ("GET", "/v1/identities/rest/" + "x" * 256, None, "sender_id"),
        ("GET", "/v1/customers/" + "c" * 129, None, "customer_id"),
        ("GET", "/v1/customers/{cid}/orders/" + "9" * 65, None, "order_number"),
        ("POST", "/v1/verifications/order", {"email": "a\x00@example.com", "order_number": "JH1"}, "email"),
        ("GET", "/v1/customers/cus%00", None, "customer_id"),
    ],
)
def test_api_huge_or_unstorable_strings_are_422(api: Api, method: str, path: str, payload: Any, field: str) -> None:
    kwargs: dict[str, Any] = {} if payload is None else {"json": payload}
    response = call_api(api, method, path.format(cid=api.customer_id), **kwargs)
    assert response.status_code == 422, response.text
    assert (error_of(response)["code"], error_of(response)["field"]) == ("invalid_input", field)


def test_api_lone_surrogate_is_422(api: Api) -> None:
    body = b'{"email": "\\ud800@example.com", "order_number": "JH300001"}'
    response = call_api(api, "POST", "/v1/verifications/order", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "email"


def test_api_oversized_body_is_413(api: Api) -> None:
    response = call_api(
        api, "POST", "/v1/tickets", json={"kind": "general", "subject": "s", "description": "d" * 300_000}
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


BODY_ENDPOINTS = [
    ("PUT", "/v1/identities/rest/s-1"),
    ("POST", "/v1/verifications/order"),
    ("POST", "/v1/verifications/code-requests"),
    ("POST", "/v1/verifications/code"),
    ("PATCH", "/v1/customers/{cid}/contact"),
    ("POST", "/v1/customers/{cid}/orders/JH300001/returns"),
    ("POST", "/v1/tickets"),
]
JUNK: list[Any] = [
    None,
    [],
    "text",
    0,
    1.5,
    True,
    {},
    {"unexpected": "field"},
    {"email": None, "code": None},
    {"kind": {}},
]


@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
def test_api_junk_bodies_never_cause_a_500(api: Api, method: str, path: str) -> None:
    for junk in JUNK:
        response = call_api(api, method, path.format(cid=api.customer_id), json=junk)
        assert response.status_code == 422, (junk, response.status_code, response.text)
        assert error_of(response)["code"] == "invalid_input"


def test_api_unknown_route_and_wrong_method(api: Api) -> None:
    response = call_api(api, "GET", "/v1/nothing-here")
    assert (response.status_code, error_of(response)["code"]) == (404, "unknown_endpoint")
    response = call_api(api, "GET", f"/v1/customers/{api.customer_id}/orders/")  # no slash redirects
    assert (response.status_code, error_of(response)["code"]) == (404, "unknown_endpoint")
    response = call_api(api, "DELETE", f"/v1/customers/{api.customer_id}")
    assert (response.status_code, error_of(response)["code"]) == (405, "method_not_allowed")


def test_api_domain_errors_keep_their_codes(api: Api) -> None:
    response = call_api(api, "GET", "/v1/customers/cus_nobody")
    assert (response.status_code, error_of(response)["code"]) == (404, "not_found")
    response = call_api(api, "POST", f"/v1/customers/{api.customer_id}/orders/JH300001/cancellation")
    assert response.status_code == 409
    assert error_of(response) == {"code": "order_shipped", "message": "Order JH300001 is shipped.", "field": None}
    response = call_api(api, "POST", "/v1/verifications/order", json={"email": "x@example.com", "order_number": "JH1"})
    assert (response.status_code, error_of(response)["code"]) == (422, "verification_failed")
    response = call_api(api, "PATCH", f"/v1/customers/{api.customer_id}/contact", json={"field": "phone", "value": "x"})
    assert (response.status_code, error_of(response)["code"], error_of(response)["field"]) == (
        422,
        "invalid_input",
        "phone",
    )
    response = call_api(api, "GET", "/v1/identities/rest/nobody")
    assert (response.status_code, error_of(response)["code"]) == (404, "not_found")


class BrokenCrm:
    """A CrmService whose store is down (get_customer) or that has a bug (everything else)."""

    def get_customer(self, customer_id: str) -> object:
        raise CrmUnavailable("could not connect to postgresql://crm:hunter2@db.internal:5432")

    def __getattr__(self, name: str) -> Callable[..., object]:
        def broken(*args: object, **kwargs: object) -> object:
            raise RuntimeError("secret internals")

        return broken


def test_api_store_down_is_503_and_bugs_are_500_without_details(tmp_path: Path) -> None:
    with serve(create_app(BrokenCrm(), token=None)) as url:  # type: ignore[arg-type]
        response = requests.get(url + "/v1/customers/cus_1", timeout=5)
        assert response.status_code == 503
        assert "hunter2" not in response.text and error_of(response)["code"] == "crm_unavailable"
        response = requests.get(url + "/v1/customers/cus_1/loyalty", timeout=5)
        assert response.status_code == 500
        assert "secret" not in response.text and error_of(response)["code"] == "internal_error"

        service = client(url)
        with pytest.raises(CrmUnavailable, match="HTTP 503"):
            service.get_customer("cus_1")
        with pytest.raises(CrmUnavailable, match="HTTP 500"):
            service.loyalty("cus_1")
