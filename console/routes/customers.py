"""Customers (any signed-in agent or admin): look them up, read everything about them. Every search and every
page read leaves an entry in the audit log.

GET  /customers?q=                                              search by name, email, phone, order number or id
GET  /customers/{customer_id}?timeline=<cursor>                 the customer page: profile, value and its reasons,
                                                                consents, preferences, orders, tickets, timeline
GET  /customers/{customer_id}/conversations/{conversation_id}   one conversation of the timeline (the page shows it
                                                                in place; opened on its own, a page of its own)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from console.deps import TEMPLATES, RowId, Services, SignedIn, actor
from crm_adapter.domain import InvalidInput

router = APIRouter()
CustomerId = Annotated[str, PathParam(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
Cursor = Annotated[str | None, Query(max_length=200)]


@router.get("/customers", response_class=HTMLResponse)
def search_page(
    request: Request, me: SignedIn, services: Services, q: Annotated[str, Query(max_length=100)] = ""
) -> Response:
    directory, log = services.directory(), services.audit_log()
    context: dict[str, object] = {"q": q, "matches": None, "error": None}
    if q.strip():
        try:
            matches = directory.search(q)
        except InvalidInput as exc:
            context["error"] = str(exc)
        else:
            context["matches"] = matches
            # The entry counts what was found: what was typed may be a name or an email, and stays out of the log.
            log.record(actor(request, me), "customer.searched", "customer", "search", detail=f"{len(matches)} found")
    template = "customers_results.html" if request.headers.get("HX-Request") else "customers.html"
    return TEMPLATES.TemplateResponse(request, template, context)


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
def customer_page(
    request: Request, me: SignedIn, services: Services, customer_id: CustomerId, timeline: Cursor = None
) -> Response:
    directory, log = services.directory(), services.audit_log()
    page = directory.page(customer_id, cursor=timeline)  # a cursor not of ours: InvalidInput, a 422 page
    log.record(actor(request, me), "customer.viewed", "customer", customer_id, customer_id=customer_id)
    return TEMPLATES.TemplateResponse(request, "customer.html", {"page": page, "c": page.customer})


@router.get("/customers/{customer_id}/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation(
    request: Request,
    me: SignedIn,
    services: Services,
    customer_id: CustomerId,
    conversation_id: RowId,
    more: Cursor = None,
) -> Response:
    log = services.audit_log()
    detail = services.history.conversation(customer_id, conversation_id, cursor=more, limit=100)
    log.record(actor(request, me), "conversation.viewed", "conversation", conversation_id, customer_id=customer_id)
    template = "customer_conversation.html" if request.headers.get("HX-Request") else "customer_conversation_page.html"
    return TEMPLATES.TemplateResponse(request, template, {"d": detail, "customer_id": customer_id})
