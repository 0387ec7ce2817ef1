"""The audit log (admins): who viewed or changed which customer's data, who took, replied to, resolved or handed
back which conversation, and every admin change, with the time and the address.

GET  /audit?actor=&action=&customer=&since=&until=&before=      newest first, 50 a page, filtered
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from audit.log import ACTIONS, AuditQuery
from console.deps import MAX_ID, TEMPLATES, Admin, Services
from crm_adapter.domain import InvalidInput

router = APIRouter()


def _day(field: str, text: str) -> date | None:
    """A day from the filter form (empty: no bound)."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(field, f"{field} must be a date such as 2026-12-01.") from None


Field = Annotated[str, Query(max_length=80)]


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    me: Admin,
    services: Services,
    actor: Field = "",
    action: Annotated[str, Query(max_length=40)] = "",
    customer: Annotated[str, Query(max_length=32)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    log = services.audit_log()
    families = sorted({name.split(".")[0] for name in ACTIONS})
    query = AuditQuery(
        actor=actor.strip() or None,
        action=action if action in ACTIONS or action in families else None,
        customer_id=customer.strip() or None,
        since=_day("since", since),
        until=_day("until", until),
    )
    page = log.entries(query, before=before)
    filters = {"actor": actor, "action": action, "customer": customer, "since": since, "until": until}
    kept = {k: str(v) for k, v in filters.items() if v}
    older = "/audit?" + urlencode(kept | {"before": page.next_before}) if page.next_before else None
    context = {
        "page": page,
        "older": older,
        "query": query,
        "actors": log.actors(),
        "actions": ACTIONS,
        "families": families,
        "filters": filters,
    }
    return TEMPLATES.TemplateResponse(request, "audit.html", context)
