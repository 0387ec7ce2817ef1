"""Canned responses (admins manage them; every agent inserts them with `/` in the reply box).

GET  /canned                                                    the list, and a form for a new one
POST /canned                                                    create one
GET  /canned/{shortcut}, POST /canned/{shortcut}                edit one (its shortcut too), or delete it
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import TEMPLATES, Admin, Services, actor
from crm_adapter.domain import InvalidInput
from workspace.canned import PLACEHOLDERS

router = APIRouter()
Shortcut = Annotated[str, PathParam(max_length=30, pattern=r"^[a-z0-9-]+$")]
Title = Annotated[str, Form(max_length=200)]
Body = Annotated[str, Form(max_length=4000)]


def _page(request: Request, services: Services, form: dict[str, str], error: InvalidInput | None = None) -> Response:
    context = {
        "responses": services.canned_responses().listing(),
        "placeholders": PLACEHOLDERS,
        "f": form,
        "error": str(error) if error else None,
        "field": error.field if error else None,
    }
    template = "canned_edit.html" if form.get("editing") else "canned.html"
    return TEMPLATES.TemplateResponse(request, template, context, status_code=422 if error else 200)


@router.get("/canned", response_class=HTMLResponse)
def canned_page(request: Request, me: Admin, services: Services) -> Response:
    return _page(request, services, {"shortcut": "", "title": "", "body": ""})


@router.post("/canned", response_class=HTMLResponse)
def create(
    request: Request, me: Admin, services: Services, shortcut: Title = "", title: Title = "", body: Body = ""
) -> Response:
    canned, log = services.canned_responses(), services.audit_log()
    try:
        made = canned.save(shortcut, title, body, by=me.agent.username)
    except InvalidInput as exc:  # shown again as typed, with what is wrong
        return _page(request, services, {"shortcut": shortcut, "title": title, "body": body}, exc)
    log.record(actor(request, me), "canned.created", "canned", made.shortcut)
    return RedirectResponse(f"/canned?saved={made.shortcut}", status_code=303)


@router.get("/canned/{shortcut}", response_class=HTMLResponse)
def edit_page(request: Request, me: Admin, services: Services, shortcut: Shortcut) -> Response:
    found = services.canned_responses().get(shortcut)
    form = {"shortcut": found.shortcut, "title": found.title, "body": found.body, "editing": found.shortcut}
    return _page(request, services, form)


@router.post("/canned/{shortcut}", response_class=HTMLResponse)
def save(
    request: Request,
    me: Admin,
    services: Services,
    shortcut: Shortcut,
    new_shortcut: Annotated[str, Form(alias="shortcut", max_length=200)] = "",
    title: Title = "",
    body: Body = "",
    action: Annotated[str, Form(max_length=10)] = "save",
) -> Response:
    canned, log = services.canned_responses(), services.audit_log()
    if action == "delete":
        canned.delete(shortcut)
        log.record(actor(request, me), "canned.deleted", "canned", shortcut)
        return RedirectResponse("/canned", status_code=303)
    try:
        saved = canned.save(new_shortcut, title, body, by=me.agent.username, replacing=shortcut)
    except InvalidInput as exc:
        form = {"shortcut": new_shortcut, "title": title, "body": body, "editing": shortcut}
        return _page(request, services, form, exc)
    detail = f"was /{shortcut}" if saved.shortcut != shortcut else ""
    log.record(actor(request, me), "canned.saved", "canned", saved.shortcut, detail=detail)
    return RedirectResponse(f"/canned?saved={saved.shortcut}", status_code=303)
