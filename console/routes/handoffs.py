"""Handoffs: the queue and the conversations agents take over (any signed-in agent or admin).

GET  /handoffs                                                  the queue: waiting by priority, and taken
POST /handoffs/{id}/take                                        take a waiting conversation
GET  /handoffs/{id}, GET /handoffs/{id}/transcript?after=N      the packet and the live transcript (JSON)
POST /handoffs/{id}/reply | notes | tags | close                reply to the customer through their channel,
                                                                private notes, tags, resolve or hand back
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import MAX_ID, TEMPLATES, RowId, Services, SignedIn, actor
from crm_adapter.domain import InvalidInput

router = APIRouter()


@router.get("/handoffs", response_class=HTMLResponse)
def queue_page(request: Request, me: SignedIn, services: Services) -> Response:
    places = services.desk().queue()
    names = {a.agent_id: a.display_name for a in services.agents.list_agents()}
    online = services.agents.online_agents()
    context = {"places": places, "names": names, "online": online, "now": datetime.utcnow()}
    return TEMPLATES.TemplateResponse(request, "handoffs.html", context)


@router.post("/handoffs/{handoff_id}/take", response_class=HTMLResponse)
def take(request: Request, handoff_id: RowId, me: SignedIn, services: Services) -> Response:
    log = services.audit_log()
    taken = services.desk().take(handoff_id, me.agent.agent_id)
    log.record(actor(request, me), "handoff.taken", "handoff", handoff_id, customer_id=taken.customer_id)
    return RedirectResponse(f"/handoffs/{handoff_id}", status_code=303)


@router.get("/handoffs/{handoff_id}", response_class=HTMLResponse)
def handoff_page(request: Request, me: SignedIn, services: Services, handoff_id: RowId) -> Response:
    desk, log = services.desk(), services.audit_log()
    handoff = desk.get(handoff_id)
    log.record(actor(request, me), "handoff.viewed", "handoff", handoff_id, customer_id=handoff.customer_id)
    names = {a.agent_id: a.display_name for a in services.agents.list_agents()}
    said = services.said(handoff.sender_id) if handoff.status in ("waiting", "assigned") else []
    context: dict[str, Any] = {
        "h": handoff,
        "p": handoff.packet,
        "mine": handoff.status == "assigned" and handoff.agent_id == me.agent.agent_id,
        "agent_name": names.get(handoff.agent_id or -1),
        "notes": [(names.get(n.agent_id or -1, "someone"), n) for n in desk.notes(handoff_id)],
        "messages": said,
    }
    # What a draft help article would start from: the customer's last words, and the agent's last reply.
    agent_replies = [m for m in said if m.get("who") == "agent" or m.get("agent")]
    asked = [m for m in said if m.get("who") == "customer"]
    context["proposal_question"] = asked[-1]["text"] if asked else ""
    context["proposal_answer"] = agent_replies[-1]["text"] if agent_replies else ""
    return TEMPLATES.TemplateResponse(request, "handoff.html", context)


@router.get("/handoffs/{handoff_id}/transcript")
def transcript(
    me: SignedIn, services: Services, handoff_id: RowId, after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0
) -> dict[str, Any]:
    handoff = services.desk().get(handoff_id)
    live = handoff.status in ("waiting", "assigned")
    return {"status": handoff.status, "messages": services.said(handoff.sender_id, after) if live else []}


@router.post("/handoffs/{handoff_id}/reply", response_class=HTMLResponse)
def reply(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    text: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    words = text.strip()
    if not words:
        raise InvalidInput("text", "Write a reply first.")
    log = services.audit_log()
    handoff = services.desk().check_owner(handoff_id, me.agent.agent_id)
    services.bot().send_as_agent(handoff.sender_id, handoff.channel, words, me.agent.display_name, me.agent.agent_id)
    detail = f"{len(words)} characters on {handoff.channel}"  # the words are the conversation's, not the log's
    who = actor(request, me)
    log.record(who, "handoff.replied", "handoff", handoff_id, customer_id=handoff.customer_id, detail=detail)
    return RedirectResponse(f"/handoffs/{handoff_id}#reply", status_code=303)


@router.post("/handoffs/{handoff_id}/notes", response_class=HTMLResponse)
def add_note(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    desk, log = services.desk(), services.audit_log()
    desk.add_note(handoff_id, me.agent.agent_id, text)
    customer_id = desk.get(handoff_id).customer_id
    log.record(actor(request, me), "handoff.noted", "handoff", handoff_id, customer_id=customer_id)
    return RedirectResponse(f"/handoffs/{handoff_id}#notes", status_code=303)


@router.post("/handoffs/{handoff_id}/tags", response_class=HTMLResponse)
def set_tags(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    tags: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    log = services.audit_log()
    tagged = services.desk().set_tags(handoff_id, [t for t in tags.split(",")])
    detail = ", ".join(tagged.tags) or "none"
    who = actor(request, me)
    log.record(who, "handoff.tagged", "handoff", handoff_id, customer_id=tagged.customer_id, detail=detail)
    return RedirectResponse(f"/handoffs/{handoff_id}#tags", status_code=303)


@router.post("/handoffs/{handoff_id}/close", response_class=HTMLResponse)
def close(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    outcome: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Resolve, or hand back to the bot (with a note for the record); either way the bot speaks again."""
    if outcome not in ("resolved", "returned"):
        raise InvalidInput("outcome", "Choose resolve or hand back.")
    log = services.audit_log()
    handoff = services.desk().check_owner(handoff_id, me.agent.agent_id)
    services.bot().hand_back(handoff.sender_id, handoff.channel, me.agent.display_name, outcome)
    services.desk().close(handoff_id, me.agent.agent_id, outcome, note)
    log.record(actor(request, me), f"handoff.{outcome}", "handoff", handoff_id, customer_id=handoff.customer_id)
    return RedirectResponse("/handoffs", status_code=303)
