"""FastAPI app serving the CRM REST contract (docs/crm-rest-contract.md) over any `CrmService`.

It is the reference server of the contract that `crm_adapter.http_backend.HttpCrmService` speaks:
run it over `SqlCrmService` and the bot can use our database through HTTP, or read it as the
specification when putting the contract in front of another CRM.

Handlers only translate: JSON in (validated by the models below), a service call, JSON out.
Every error leaves as `{"error": {"code", "message", "field"}}` (see `_on_crm_error` and `_HTTP_CODES`).

    uvicorn --factory crm_api.app:app_from_env --ws none   # CRM_API_TOKEN, plus the CRM_* settings
"""

import hmac
import logging
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_adapter.domain import (
    CodeRequired,
    ContactField,
    CrmError,
    CrmUnavailable,
    InvalidInput,
    NewTicket,
    NotAllowed,
    NotFound,
    OrderChange,
    OrderStatus,
    TicketKind,
    TicketStatus,
    VerificationFailed,
)
from crm_adapter.ports import CrmService, HistoryReader, RelationshipService
from crm_adapter.rules import MAX_LINE_QUANTITY
from history.unavailable import HistoryUnavailable
from relationship.unavailable import RelationshipUnavailable
from shared import log_redaction

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_ORDERS = 50


# ---- errors -------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, order_shipped, invalid_input.")
    message: str = Field(description="Human-readable explanation; may be shown to staff, not parsed.")
    field: str | None = Field(None, description="The offending input field, for invalid_input.")


class ErrorOut(BaseModel):
    error: ErrorDetail


def error_response(status: int, code: str, message: str, field: str | None = None, **kw: Any) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "field": field}}
    return JSONResponse(body, status_code=status, **kw)


class ApiError(Exception):
    """An error the API itself raises (authentication); carries its status and code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "unknown_endpoint",  # a missing *record* is "not_found"; this is a path no route serves
    405: "method_not_allowed",
    413: "payload_too_large",
}


async def _on_crm_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, RelationshipUnavailable):  # the backend is an external CRM (CRM_BACKEND=http)
        return error_response(404, "profile_unavailable", str(exc))
    if isinstance(exc, HistoryUnavailable):
        return error_response(404, "history_unavailable", str(exc))
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", str(exc) or "Not found.")
    if isinstance(exc, NotAllowed):
        return error_response(409, exc.reason, str(exc))
    if isinstance(exc, InvalidInput):
        return error_response(422, "invalid_input", str(exc), exc.field)
    if isinstance(exc, CodeRequired):
        return error_response(422, "code_required", "Only a one-time code emailed to this address proves it now.")
    if isinstance(exc, VerificationFailed):
        return error_response(422, "verification_failed", "The details given don't match our records.")
    if isinstance(exc, CrmUnavailable):
        log.warning("CRM store unavailable: %s", exc)
        return error_response(503, "crm_unavailable", "The CRM store is unavailable; try again shortly.")
    log.error("unexpected CRM error: %r", exc)
    return error_response(500, "internal_error", "Unexpected CRM error.")


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first: dict[str, Any] = dict(errors[0]) if errors else {"loc": ("body",), "msg": "Invalid request."}
    loc = [str(part) for part in first.get("loc", ())]
    field = ".".join(loc[1:]) if len(loc) > 1 and loc[0] in {"body", "query", "path", "header"} else ".".join(loc)
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "")
        return error_response(422, "invalid_json", f"The request body is not valid JSON: {reason}".strip(), "body")
    return error_response(422, "invalid_input", str(first.get("msg", "Invalid value.")), field or "body")


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. JSON nested too deeply)
        return error_response(422, "invalid_json", f"The request body could not be parsed: {exc.detail}", "body")
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The server logs the traceback (Starlette re-raises after this response); the client learns nothing.
    return error_response(500, "internal_error", "Unexpected error.")


# ---- wire types ------------------------------------------------------------------


def _no_nul(value: str) -> str:
    if "\x00" in value:  # PostgreSQL cannot store it
        raise PydanticCustomError("nul_character", "Must not contain NUL characters.")
    return value


def _utc_iso(value: datetime) -> str:
    """Naive datetimes in the domain are UTC; on the wire every timestamp carries its 'Z'."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


Timestamp = Annotated[
    datetime,
    PlainSerializer(_utc_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-20T12:00:00Z"]}),
]
Email = Annotated[str, Field(max_length=320), AfterValidator(_no_nul)]
OrderNumber = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]
CustomerId = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_no_nul)]
Channel = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,40}$", examples=["rest"])]
SenderId = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_no_nul)]

CustomerIdPath = Annotated[str, Path(min_length=1, max_length=128), AfterValidator(_no_nul)]
OrderNumberPath = Annotated[str, Path(min_length=1, max_length=64), AfterValidator(_no_nul)]
ChannelPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.\-]{1,40}$")]
SenderIdPath = Annotated[str, Path(min_length=1, max_length=255), AfterValidator(_no_nul)]


class _In(BaseModel):
    """Request bodies: unknown fields are ignored, so clients may send newer fields to older servers."""


class LinkIdentityIn(_In):
    customer_id: CustomerId


class OrderVerificationIn(_In):
    email: Email
    order_number: OrderNumber


class CodeRequestIn(_In):
    email: Email


class CodeVerificationIn(_In):
    email: Email
    code: Annotated[str, Field(max_length=32), AfterValidator(_no_nul)]


class ContactUpdateIn(_In):
    field: ContactField
    value: Annotated[str, Field(max_length=1000), AfterValidator(_no_nul)]


class OrderChangeIn(_In):
    kind: Literal["remove_item", "set_quantity", "deliver_to"]
    sku: Annotated[str, Field(min_length=1, max_length=24), AfterValidator(_no_nul)] | None = None
    quantity: Annotated[int, Field(ge=0, le=MAX_LINE_QUANTITY)] | None = None
    address: Annotated[str, Field(max_length=1000), AfterValidator(_no_nul)] | None = None


class ReturnIn(_In):
    reason: Annotated[str, Field(max_length=5000)]


class TicketIn(_In):
    kind: TicketKind
    subject: Annotated[str, Field(min_length=1, max_length=1000)]
    description: Annotated[str, Field(max_length=20000)] = ""
    customer_id: CustomerId | None = None
    channel: Channel | None = None
    sender_id: SenderId | None = None
    order_number: OrderNumber | None = None


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class CustomerOut(_Out):
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    address: str | None
    loyalty_points: int


class ValuePartOut(_Out):
    name: str = Field(description="purchases | engagement | advocacy")
    points: float
    max_points: float
    reasons: list[str]


class ValueOut(_Out):
    score: float = Field(description="0-100: purchases + engagement + advocacy (relationship/value.py)")
    tier: str = Field(description="vip | high | standard | low")
    parts: list[ValuePartOut]


class ConsentsOut(_Out):
    history: bool | None
    service: bool | None
    marketing: bool | None


class SentimentOut(_Out):
    points: list[float]
    average: float | None
    label: str
    direction: str


class ProfileOut(_Out):
    customer: CustomerOut
    value: ValueOut
    consents: ConsentsOut
    preferences: dict[str, str]
    sentiment: SentimentOut
    channels: list[str]
    conversations: int
    orders: int
    open_tickets: int
    loyalty_points: int


class HighlightOut(_Out):
    kind: str = Field(description="open_ticket | order_in_progress | order_delivered")
    reference: str
    detail: str
    status: str


class CustomerContextOut(_Out):
    customer_id: str
    first_name: str
    loyalty_points: int
    highlight: HighlightOut | None
    last_contact_at: Timestamp | None = None
    open_ticket_count: int = 0
    tags: list[str] = []


class LoyaltyOut(_Out):
    points: int
    tier: str
    value_cents: int
    points_to_next_tier: int | None


class OrderLineOut(_Out):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


class OrderOut(_Out):
    order_number: str
    customer_id: str
    status: OrderStatus
    placed_at: Timestamp
    expected_delivery: Timestamp | None
    delivered_at: Timestamp | None
    total_cents: int
    currency: str
    carrier: str | None
    tracking_number: str | None
    lines: list[OrderLineOut]
    delivery_address: str | None = None


class OrdersOut(_Out):
    orders: list[OrderOut]


class ReturnOut(_Out):
    rma_number: str
    order_number: str
    reason: str
    status: str
    refund_cents: int
    created_at: Timestamp
    refunded_at: Timestamp | None


class ReturnsOut(_Out):
    returns: list[ReturnOut]


class TicketOut(_Out):
    reference: str
    customer_id: str | None
    kind: TicketKind
    status: TicketStatus
    subject: str
    description: str
    channel: str | None
    order_number: str | None
    created_at: Timestamp


class TicketsOut(_Out):
    tickets: list[TicketOut]


class RemovedOut(_Out):
    removed: bool


class TimelineEntryOut(_Out):
    kind: str = Field(description="conversation | ticket | return | order | feedback")
    reference: str = Field(description="Conversation id, ticket reference, RMA number, order number or feedback id.")
    occurred_at: Timestamp
    title: str
    detail: dict[str, Any]


class TimelineOut(_Out):
    customer_id: str
    entries: list[TimelineEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end.")


class HistoryMessageOut(_Out):
    sender: str = Field(description="customer | bot | agent")
    text: str | None
    sent_at: Timestamp
    intent: str | None
    confidence: float | None
    response: str | None
    actions: list[str]
    slots: dict[str, Any]


class ConversationOut(_Out):
    conversation_id: int
    customer_id: str | None
    channel: str
    started_at: Timestamp
    ended_at: Timestamp | None
    outcome: str | None = Field(description="resolved_by_bot | handed_off | abandoned; null while open")
    summary: str | None
    intents: dict[str, int]
    references: dict[str, list[str]]
    message_count: int
    messages: list[HistoryMessageOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (newer) messages; null at the end.")


# ---- dependencies -------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="The shared API token: `Authorization: Bearer <token>`.")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    expected: str | None = request.app.state.token
    if expected is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "A valid bearer token is required.", {"WWW-Authenticate": "Bearer"})


def get_crm(request: Request) -> CrmService:
    return request.app.state.crm


Crm = Annotated[CrmService, Depends(get_crm)]


def get_history(request: Request) -> HistoryReader:
    history: HistoryReader | None = request.app.state.history
    if history is None:
        raise ApiError(404, "history_unavailable", "This CRM backend keeps no relationship history.")
    return history


History = Annotated[HistoryReader, Depends(get_history)]


def get_relationship(request: Request) -> RelationshipService:
    relationship: RelationshipService | None = request.app.state.relationship
    if relationship is None:
        raise ApiError(404, "profile_unavailable", "This CRM backend keeps no relationship profile.")
    return relationship


Relationship = Annotated[RelationshipService, Depends(get_relationship)]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page.")]


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut} for status in statuses}


# ---- routes ---------------------------------------------------------------------------

router = APIRouter(prefix="/v1", responses=_errors(401, 422, 503))

# identity


@router.get("/identities/{channel}/{sender_id:path}", response_model=CustomerContextOut, responses=_errors(404))
def recognize(channel: ChannelPath, sender_id: SenderIdPath, crm: Crm) -> Any:
    """The customer linked to a channel account, with the one thing worth mentioning; 404 if none."""
    context = crm.recognize(channel, sender_id)
    if context is None:
        raise NotFound("No customer is linked to this channel identity.")
    return context


@router.put("/identities/{channel}/{sender_id:path}", status_code=204, responses=_errors(404))
def link_identity(channel: ChannelPath, sender_id: SenderIdPath, body: LinkIdentityIn, crm: Crm) -> Response:
    """Link (or re-link) a channel account to a customer after they proved who they are."""
    crm.link_identity(body.customer_id, channel, sender_id)
    return Response(status_code=204)


@router.delete("/identities/{channel}/{sender_id:path}", response_model=RemovedOut)
def unlink_identity(channel: ChannelPath, sender_id: SenderIdPath, crm: Crm) -> Any:
    return {"removed": crm.unlink_identity(channel, sender_id)}


@router.post("/verifications/order", response_model=CustomerOut)
def verify_with_order(body: OrderVerificationIn, crm: Crm) -> Any:
    """Prove identity with an email address and one of that customer's order numbers."""
    return crm.verify_with_order(body.email, body.order_number)


@router.post("/verifications/code-requests", status_code=202, response_class=Response)
def send_one_time_code(body: CodeRequestIn, crm: Crm) -> Response:
    """Queue a one-time code (the worker emails it); always 202, whether or not the address is on file."""
    crm.send_one_time_code(body.email)
    return Response(status_code=202)


@router.post("/verifications/code", response_model=CustomerOut)
def verify_one_time_code(body: CodeVerificationIn, crm: Crm) -> Any:
    return crm.verify_one_time_code(body.email, body.code)


# profile


@router.get("/customers/{customer_id}", response_model=CustomerOut, responses=_errors(404))
def get_customer(customer_id: CustomerIdPath, crm: Crm) -> Any:
    return crm.get_customer(customer_id)


@router.get("/customers/{customer_id}/context", response_model=CustomerContextOut, responses=_errors(404))
def customer_context(customer_id: CustomerIdPath, crm: Crm) -> Any:
    return crm.customer_context(customer_id)


@router.patch("/customers/{customer_id}/contact", response_model=CustomerOut, responses=_errors(404, 409))
def update_contact(customer_id: CustomerIdPath, body: ContactUpdateIn, crm: Crm) -> Any:
    return crm.update_contact(customer_id, body.field, body.value)


@router.get("/customers/{customer_id}/loyalty", response_model=LoyaltyOut, responses=_errors(404))
def loyalty(customer_id: CustomerIdPath, crm: Crm) -> Any:
    return crm.loyalty(customer_id)


# orders


@router.get("/customers/{customer_id}/orders", response_model=OrdersOut, responses=_errors(404))
def list_orders(customer_id: CustomerIdPath, crm: Crm, limit: Annotated[int, Query(ge=1, le=MAX_ORDERS)] = 5) -> Any:
    return {"orders": crm.list_orders(customer_id, limit)}


@router.get("/customers/{customer_id}/orders/{order_number}", response_model=OrderOut, responses=_errors(404))
def get_order(customer_id: CustomerIdPath, order_number: OrderNumberPath, crm: Crm) -> Any:
    return crm.get_order(customer_id, order_number)


@router.post(
    "/customers/{customer_id}/orders/{order_number}/cancellation",
    response_model=OrderOut,
    responses=_errors(404, 409),
)
def cancel_order(customer_id: CustomerIdPath, order_number: OrderNumberPath, crm: Crm) -> Any:
    return crm.cancel_order(customer_id, order_number)


@router.patch(
    "/customers/{customer_id}/orders/{order_number}",
    response_model=OrderOut,
    responses=_errors(404, 409, 422),
)
def change_order(customer_id: CustomerIdPath, order_number: OrderNumberPath, body: OrderChangeIn, crm: Crm) -> Any:
    change = OrderChange(kind=body.kind, sku=body.sku, quantity=body.quantity, address=body.address)
    return crm.change_order(customer_id, order_number, change)


@router.post(
    "/customers/{customer_id}/orders/{order_number}/returns",
    status_code=201,
    response_model=ReturnOut,
    responses=_errors(404, 409),
)
def start_return(customer_id: CustomerIdPath, order_number: OrderNumberPath, body: ReturnIn, crm: Crm) -> Any:
    return crm.start_return(customer_id, order_number, body.reason)


@router.get("/customers/{customer_id}/returns", response_model=ReturnsOut)
def list_returns(customer_id: CustomerIdPath, crm: Crm) -> Any:
    return {"returns": crm.list_returns(customer_id)}


# tickets


@router.post("/tickets", status_code=201, response_model=TicketOut, responses=_errors(404))
def open_ticket(body: TicketIn, crm: Crm) -> Any:
    return crm.open_ticket(NewTicket(**body.model_dump()))


@router.get("/customers/{customer_id}/tickets", response_model=TicketsOut)
def list_tickets(customer_id: CustomerIdPath, crm: Crm, open_only: bool = False) -> Any:
    return {"tickets": crm.list_tickets(customer_id, open_only)}


# relationship history


@router.get("/customers/{customer_id}/timeline", response_model=TimelineOut, responses=_errors(404))
def timeline(
    customer_id: CustomerIdPath,
    history: History,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """Conversations, tickets, returns, orders and feedback, newest first, one page at a time."""
    return history.timeline(customer_id, cursor=cursor, limit=limit)


@router.get("/customers/{customer_id}/profile", response_model=ProfileOut, responses=_errors(404))
def profile(customer_id: CustomerIdPath, relationship: Relationship) -> Any:
    """The customer's 360: contact details, value with its breakdown, consents, preferences, sentiment."""
    return relationship.profile(customer_id)


@router.get(
    "/customers/{customer_id}/conversations/{conversation_id}", response_model=ConversationOut, responses=_errors(404)
)
def conversation(
    customer_id: CustomerIdPath,
    conversation_id: Annotated[int, Path(ge=1, le=2**62)],
    history: History,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Any:
    """One conversation of this customer with a page of its messages, oldest first."""
    return history.conversation(customer_id, conversation_id, cursor=cursor, limit=limit)


# ---- the app ----------------------------------------------------------------------------


def create_app(
    service: CrmService,
    token: str | None,
    history: HistoryReader | None = None,
    relationship: RelationshipService | None = None,
) -> FastAPI:
    """The CRM API over `service` (and `history`, when the backend keeps one); with a token every
    /v1 call needs `Authorization: Bearer <token>`."""
    app = FastAPI(
        title="Hearth CRM API",
        version="1.0.0",
        description="The CRM contract the customer-service bot speaks. See docs/crm-rest-contract.md.",
        redirect_slashes=False,
    )
    app.state.crm = service
    app.state.history = history
    app.state.relationship = relationship
    app.state.token = token or None
    app.include_router(router, dependencies=[Depends(require_token)] if token else [])

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def limit_body_size(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return error_response(413, "payload_too_large", f"Request bodies are limited to {MAX_BODY_BYTES} bytes.")
        return await call_next(request)

    app.add_exception_handler(CrmError, _on_crm_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(Exception, _on_unexpected)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory`: the configured CRM backend, token from CRM_API_TOKEN."""
    from hearth.container import container

    log_redaction.install()  # emails and phone numbers masked in every log line of this process
    box = container()
    if not box.settings.crm_api_token:
        raise RuntimeError("Set CRM_API_TOKEN: the CRM API does not run unauthenticated outside tests.")
    return create_app(box.crm, box.settings.crm_api_token, box.history, box.relationship)
