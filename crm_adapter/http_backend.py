"""The CRM service over HTTP: a client of the JSON contract in docs/crm-rest-contract.md.

`HttpCrmService` implements `crm_adapter.ports.CrmService` against any server that speaks the
contract (our own `crm_api` app, or a team's adapter in front of their CRM). It owns no business
rules: it turns calls into requests, responses into domain dataclasses, and failures into the
domain errors, so callers cannot tell it from `SqlCrmService`.

Failure mapping (every call has an explicit timeout):

* connection refused/reset, DNS failure, timeout, 5xx, any status the contract doesn't allow,
  a body that isn't JSON or doesn't have the documented shape  -> `CrmUnavailable`
* 401/403 -> `CrmAuthenticationFailed` (a `CrmUnavailable`, so the bot degrades the same way,
  but the message says to check CRM_HTTP_TOKEN)
* 404 with error code "not_found" -> `NotFound`; any other 404 (a proxy's page, the server's
  "unknown_endpoint" for a wrong base URL) is `CrmUnavailable`: it says nothing about the record
* 409 -> `NotAllowed(reason=error.code)`
* 422 with code "verification_failed" -> `VerificationFailed`; "code_required" -> `CodeRequired` (a
  `VerificationFailed`); other 422 -> `InvalidInput(field, message)`

GET requests are retried once when the connection fails (never on a timeout: that would double the
wait); PUT, PATCH, POST and DELETE are never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from enum import Enum
from typing import Any, TypeVar
from urllib.parse import quote

import requests

from crm_adapter.domain import (
    CodeRequired,
    ContactField,
    CrmUnavailable,
    Customer,
    CustomerContext,
    Highlight,
    InvalidInput,
    LoyaltyBalance,
    NewTicket,
    NotAllowed,
    NotFound,
    Order,
    OrderChange,
    OrderLine,
    OrderStatus,
    ReturnRequest,
    Ticket,
    TicketKind,
    TicketStatus,
    VerificationFailed,
)

log = logging.getLogger(__name__)

# Free text longer than the contract allows is cut here, as SqlCrmService cuts it, instead of
# failing: a customer who pastes a long complaint should still get a ticket.
MAX_SUBJECT = 1000
MAX_DESCRIPTION = 20000
MAX_REASON = 5000
MAX_ORDERS = 50

E = TypeVar("E", bound=Enum)
T = TypeVar("T")


class CrmAuthenticationFailed(CrmUnavailable):
    """The CRM API refused our credentials (HTTP 401/403): a configuration error, not an outage."""


class _BadPayload(Exception):
    """A response body that doesn't match the contract."""


class HttpCrmService:
    """Implements `crm_adapter.ports.CrmService` as a client of the CRM REST contract."""

    def __init__(self, base_url: str, session: requests.Session | None = None, timeout: float = 5.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"CRM base URL must start with http:// or https://, not {base_url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._base = base_url.rstrip("/")
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout

    # ---- identity -------------------------------------------------------

    def recognize(self, channel: str, sender_id: str) -> CustomerContext | None:
        try:
            data = self._call("GET", _identity_path(channel, sender_id))
        except (NotFound, InvalidInput):  # an id the CRM cannot hold was never linked
            return None
        return _parse(_context, data, "context")

    def link_identity(self, customer_id: str, channel: str, sender_id: str) -> None:
        self._call("PUT", _identity_path(channel, sender_id), body={"customer_id": customer_id}, ok=(200, 204))

    def unlink_identity(self, channel: str, sender_id: str) -> bool:
        try:
            data = self._call("DELETE", _identity_path(channel, sender_id))
        except InvalidInput:  # an id the CRM cannot hold was never linked
            return False
        return _parse(lambda r: r.flag("removed"), data, "unlink")

    def verify_with_order(self, email: str, order_number: str) -> Customer:
        data = self._call("POST", "/v1/verifications/order", body={"email": email, "order_number": order_number})
        return _parse(_customer, data, "customer")

    def send_one_time_code(self, email: str) -> None:
        self._call("POST", "/v1/verifications/code-requests", body={"email": email}, ok=(202, 204))

    def verify_one_time_code(self, email: str, code: str) -> Customer:
        data = self._call("POST", "/v1/verifications/code", body={"email": email, "code": code})
        return _parse(_customer, data, "customer")

    # ---- profile --------------------------------------------------------

    def get_customer(self, customer_id: str) -> Customer:
        return _parse(_customer, self._call("GET", _customer_path(customer_id)), "customer")

    def customer_context(self, customer_id: str) -> CustomerContext:
        return _parse(_context, self._call("GET", _customer_path(customer_id, "context")), "context")

    def update_contact(self, customer_id: str, field: ContactField, value: str) -> Customer:
        body = {"field": ContactField(field).value, "value": value}
        data = self._call("PATCH", _customer_path(customer_id, "contact"), body=body)
        return _parse(_customer, data, "customer")

    def loyalty(self, customer_id: str) -> LoyaltyBalance:
        return _parse(_loyalty, self._call("GET", _customer_path(customer_id, "loyalty")), "loyalty")

    # ---- orders ---------------------------------------------------------

    def list_orders(self, customer_id: str, limit: int = 5) -> list[Order]:
        params = {"limit": max(1, min(int(limit), MAX_ORDERS))}
        data = self._call("GET", _customer_path(customer_id, "orders"), params=params)
        return _parse(lambda r: [_order(o) for o in r.records("orders")], data, "orders")

    def get_order(self, customer_id: str, order_number: str) -> Order:
        return _parse(_order, self._call("GET", _order_path(customer_id, order_number)), "order")

    def cancel_order(self, customer_id: str, order_number: str) -> Order:
        data = self._call("POST", _order_path(customer_id, order_number, "cancellation"))
        return _parse(_order, data, "order")

    def change_order(self, customer_id: str, order_number: str, change: OrderChange) -> Order:
        body = {
            key: value
            for key, value in (("kind", change.kind), ("sku", change.sku), ("quantity", change.quantity),
                               ("address", change.address))
            if value is not None
        }  # fmt: skip
        return _parse(_order, self._call("PATCH", _order_path(customer_id, order_number), body=body), "order")

    def start_return(self, customer_id: str, order_number: str, reason: str) -> ReturnRequest:
        body = {"reason": (reason or "")[:MAX_REASON]}
        data = self._call("POST", _order_path(customer_id, order_number, "returns"), body=body, ok=(200, 201))
        return _parse(_return, data, "return")

    def list_returns(self, customer_id: str) -> list[ReturnRequest]:
        data = self._call("GET", _customer_path(customer_id, "returns"))
        return _parse(lambda r: [_return(x) for x in r.records("returns")], data, "returns")

    # ---- tickets --------------------------------------------------------

    def open_ticket(self, ticket: NewTicket) -> Ticket:
        body = {
            "kind": TicketKind(ticket.kind).value,
            "subject": (ticket.subject or "")[:MAX_SUBJECT],
            "description": (ticket.description or "")[:MAX_DESCRIPTION],
            "customer_id": ticket.customer_id,
            "channel": ticket.channel,
            "sender_id": ticket.sender_id,
            "order_number": ticket.order_number,
        }
        data = self._call("POST", "/v1/tickets", body=body, ok=(200, 201))
        return _parse(_ticket, data, "ticket")

    def list_tickets(self, customer_id: str, open_only: bool = False) -> list[Ticket]:
        params = {"open_only": "true" if open_only else "false"}
        data = self._call("GET", _customer_path(customer_id, "tickets"), params=params)
        return _parse(lambda r: [_ticket(t) for t in r.records("tickets")], data, "tickets")

    # ---- transport ------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        ok: Iterable[int] = (200,),
    ) -> Any:
        """Send one request and return its decoded JSON body (None for a bodiless success)."""
        what = f"{method} {path}"
        attempts = 2 if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._session.request(
                    method,
                    self._base + path,
                    json=body,
                    params=params,
                    headers={"Accept": "application/json"},
                    timeout=self._timeout,
                    allow_redirects=False,  # a redirect is not part of the contract (and would turn POST into GET)
                )
                break
            except requests.Timeout as exc:  # before ConnectionError: ConnectTimeout is both
                raise CrmUnavailable(f"CRM API did not answer within {self._timeout:g}s ({what})") from exc
            except requests.ConnectionError as exc:
                if attempt < attempts:
                    log.warning("CRM API connection failed (%s), retrying once: %s", what, exc)
                    continue
                raise CrmUnavailable(f"CRM API unreachable ({what}): {exc}") from exc
            except requests.RequestException as exc:
                raise CrmUnavailable(f"CRM API request failed ({what}): {exc}") from exc
        return _handle(response, what, tuple(ok))


def _handle(response: requests.Response, what: str, ok: tuple[int, ...]) -> Any:
    status = response.status_code
    if status in ok:
        if status in (202, 204) or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CrmUnavailable(f"CRM API returned a body that is not JSON ({what}, HTTP {status})") from None
    if status in (401, 403):
        raise CrmAuthenticationFailed(f"CRM API refused our credentials (HTTP {status}, {what}): check CRM_HTTP_TOKEN")
    if status >= 500:
        raise CrmUnavailable(f"CRM API failed with HTTP {status} ({what})")
    error = _error_body(response)
    if error is not None:
        code, message, field = error
        if status == 404 and code == "not_found":
            raise NotFound(message or code)
        if status == 409:
            raise NotAllowed(code, message)
        if status == 422:
            if code == "verification_failed":
                raise VerificationFailed()
            if code == "code_required":
                raise CodeRequired()
            raise InvalidInput(field or "", message or code)
    hint = f" (is CRM_HTTP_BASE_URL right? {response.url} has no such endpoint)" if status == 404 else ""
    raise CrmUnavailable(f"CRM API answered HTTP {status} to {what}, which the contract does not allow here{hint}")


def _error_body(response: requests.Response) -> tuple[str, str, str | None] | None:
    """(code, message, field) from `{"error": {...}}`, or None when the body isn't that shape."""
    try:
        error = response.json()["error"]
        code, message, field = error["code"], error.get("message") or "", error.get("field")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(code, str) or not code or not isinstance(message, str):
        return None
    return code, message, field if isinstance(field, str) else None


# ---- paths ------------------------------------------------------------------


def _segment(value: str) -> str:
    """Percent-encode one path segment completely, '/' included.

    Dots are escaped too, or requests would resolve a sender id of "." or ".." as a dot-segment and
    call another URL. (requests then un-escapes them on the wire, so such ids arrive as a literal
    "." / ".." segment: the server and any proxy in front of it must not normalise paths.)
    """
    return quote(value, safe="").replace(".", "%2E")


def _identity_path(channel: str, sender_id: str) -> str:
    # The channel is a path segment the server decodes before routing, so it must not contain '/'.
    # The sender id is the last segment and may contain anything.
    if not channel or "/" in channel:
        raise InvalidInput("channel", "A channel name is a non-empty word without '/'.")
    return f"/v1/identities/{_segment(channel)}/{_segment(sender_id)}"


def _customer_path(customer_id: str, *rest: str) -> str:
    if not customer_id or "/" in customer_id:  # no customer id in the contract contains '/'
        raise NotFound(f"customer {customer_id}")
    return "/".join(("/v1/customers", _segment(customer_id), *rest))


def _order_path(customer_id: str, order_number: str, *rest: str) -> str:
    if not order_number or "/" in order_number:  # nor does an order number
        raise NotFound(f"order {order_number}")
    return "/".join((_customer_path(customer_id, "orders"), _segment(order_number), *rest))


# ---- JSON -> domain ---------------------------------------------------------


class _Reader:
    """Typed access to one JSON object; every mismatch is a `_BadPayload` naming the field."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise _BadPayload(f"{where}: expected an object, got {type(data).__name__}")
        self._data = data
        self._where = where

    def _get(self, key: str, kind: type, optional: bool = False) -> Any:
        value = self._data.get(key)
        if value is None:
            if optional:
                return None
            raise _BadPayload(f"{self._where}.{key}: missing or null")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _BadPayload(f"{self._where}.{key}: unexpected {type(value).__name__} {value!r:.40}")
        return value

    def text(self, key: str) -> str:
        return self._get(key, str)

    def opt_text(self, key: str) -> str | None:
        return self._get(key, str, optional=True)

    def integer(self, key: str) -> int:
        return self._get(key, int)

    def opt_integer(self, key: str) -> int | None:
        return self._get(key, int, optional=True)

    def flag(self, key: str) -> bool:
        return self._get(key, bool)

    def opt_timestamp(self, key: str) -> datetime | None:
        text = self._get(key, str, optional=True)
        if text is None:
            return None
        try:
            return parse_timestamp(text)
        except ValueError:
            raise _BadPayload(f"{self._where}.{key}: not an ISO 8601 timestamp: {text!r:.40}") from None

    def timestamp(self, key: str) -> datetime:
        value = self.opt_timestamp(key)
        if value is None:
            raise _BadPayload(f"{self._where}.{key}: missing or null")
        return value

    def choice(self, key: str, cls: type[E]) -> E:
        text = self.text(key)
        try:
            return cls(text)
        except ValueError:
            raise _BadPayload(f"{self._where}.{key}: unknown {cls.__name__} {text!r:.40}") from None

    def opt_record(self, key: str) -> _Reader | None:
        value = self._data.get(key)
        return None if value is None else _Reader(value, f"{self._where}.{key}")

    def records(self, key: str) -> list[_Reader]:
        items = self._get(key, list)
        return [_Reader(item, f"{self._where}.{key}[{i}]") for i, item in enumerate(items)]

    def texts(self, key: str) -> tuple[str, ...]:
        items = self._get(key, list, optional=True) or []
        if not all(isinstance(item, str) for item in items):
            raise _BadPayload(f"{self._where}.{key}: expected a list of strings")
        return tuple(items)


def _parse(build: Callable[[_Reader], T], data: Any, where: str) -> T:
    try:
        return build(_Reader(data, where))
    except _BadPayload as exc:
        raise CrmUnavailable(f"CRM API response does not match the contract: {exc}") from None


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 -> naive UTC, the convention of the domain objects (a value without offset is UTC)."""
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def _customer(r: _Reader) -> Customer:
    return Customer(
        customer_id=r.text("customer_id"),
        first_name=r.text("first_name"),
        last_name=r.text("last_name"),
        email=r.text("email"),
        phone=r.opt_text("phone"),
        address=r.opt_text("address"),
        loyalty_points=r.integer("loyalty_points"),
    )


def _context(r: _Reader) -> CustomerContext:
    h = r.opt_record("highlight")
    return CustomerContext(
        customer_id=r.text("customer_id"),
        first_name=r.text("first_name"),
        loyalty_points=r.integer("loyalty_points"),
        highlight=None
        if h is None
        else Highlight(h.text("kind"), h.text("reference"), h.text("detail"), h.text("status")),
        last_contact_at=r.opt_timestamp("last_contact_at"),
        open_ticket_count=r.opt_integer("open_ticket_count") or 0,
        tags=r.texts("tags"),
    )


def _loyalty(r: _Reader) -> LoyaltyBalance:
    return LoyaltyBalance(
        points=r.integer("points"),
        tier=r.text("tier"),
        value_cents=r.integer("value_cents"),
        points_to_next_tier=r.opt_integer("points_to_next_tier"),
    )


def _order(r: _Reader) -> Order:
    return Order(
        order_number=r.text("order_number"),
        customer_id=r.text("customer_id"),
        status=r.choice("status", OrderStatus),
        placed_at=r.timestamp("placed_at"),
        expected_delivery=r.opt_timestamp("expected_delivery"),
        delivered_at=r.opt_timestamp("delivered_at"),
        total_cents=r.integer("total_cents"),
        currency=r.text("currency"),
        carrier=r.opt_text("carrier"),
        tracking_number=r.opt_text("tracking_number"),
        lines=tuple(
            OrderLine(line.text("sku"), line.text("name"), line.integer("quantity"), line.integer("unit_price_cents"))
            for line in r.records("lines")
        ),
        delivery_address=r.opt_text("delivery_address"),
    )


def _return(r: _Reader) -> ReturnRequest:
    return ReturnRequest(
        rma_number=r.text("rma_number"),
        order_number=r.text("order_number"),
        reason=r.text("reason"),
        status=r.text("status"),
        refund_cents=r.integer("refund_cents"),
        created_at=r.timestamp("created_at"),
        refunded_at=r.opt_timestamp("refunded_at"),
    )


def _ticket(r: _Reader) -> Ticket:
    return Ticket(
        reference=r.text("reference"),
        customer_id=r.opt_text("customer_id"),
        kind=r.choice("kind", TicketKind),
        status=r.choice("status", TicketStatus),
        subject=r.text("subject"),
        description=r.opt_text("description") or "",
        channel=r.opt_text("channel"),
        order_number=r.opt_text("order_number"),
        created_at=r.timestamp("created_at"),
    )
