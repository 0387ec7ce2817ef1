"""Handoffs: the queue and the conversations agents take over (any signed-in agent or admin).

GET  /handoffs?view=waiting|mine|open                           the inbox: waiting by priority, mine, all open
POST /handoffs/{id}/take                                        take a waiting conversation
POST /handoffs/{id}/assign                                      give an open one to another agent
GET  /handoffs/{id}, GET /handoffs/{id}/transcript?after=N      the packet and the live transcript (JSON)
GET  /handoffs/{id}/events?after=N                              the live transcript as server-sent events
GET  /handoffs/{id}/suggestions                                 help articles for the customer's latest message
POST /handoffs/{id}/reply | notes | tags | close                reply to the customer through their channel,
                                                                private notes, tags, resolve or hand back
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from console.deps import MAX_ID, TEMPLATES, RowId, Services, SignedIn, actor
from console.routes.live import STREAM_LIFETIME
from crm_adapter.domain import InvalidInput
from workspace.canned import conversation_values

router = APIRouter()


VIEWS = {"waiting": "Waiting for a person", "mine": "Mine", "open": "All open"}


@router.get("/handoffs", response_class=HTMLResponse)
def queue_page(
    request: Request, me: SignedIn, services: Services, view: Annotated[str, Query(max_length=10)] = "waiting"
) -> Response:
    """The inbox: waiting (by value tier, then waiting time), mine, or all open. The list reloads itself when the
    live updates say it changed (htmx asks for the list alone)."""
    chosen = view if view in VIEWS else "waiting"
    places = services.desk().queue()
    if chosen == "waiting":
        places = [p for p in places if p.handoff.status == "waiting"]
    elif chosen == "mine":
        places = [p for p in places if p.handoff.status == "assigned" and p.handoff.agent_id == me.agent.agent_id]
    names = {a.agent_id: a.display_name for a in services.agents.list_agents()}
    online = services.agents.online_agents()
    clocks = services.targets.open_clocks() if services.targets is not None else {}
    context = {"places": places, "names": names, "online": online, "now": datetime.utcnow(), "view": chosen,
               "views": VIEWS, "clocks": clocks}  # fmt: skip
    template = "handoffs_list.html" if request.headers.get("HX-Request") else "handoffs.html"
    return TEMPLATES.TemplateResponse(request, template, context)


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
    agents = [a for a in services.agents.list_agents() if a.active]
    context: dict[str, Any] = {
        "agents": agents,
        "online_ids": {a.agent_id for a in services.agents.online_agents()},
        "due": services.targets.due(handoff, desk.first_response_at(handoff_id)) if services.targets else None,
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
    # what writes the reply: the summary so far, and the canned responses filled for this customer
    context["summary"] = services.summaries.for_handoff(handoff) if services.summaries is not None else None
    values = conversation_values(handoff.packet, me.agent.display_name)
    canned = services.canned.filled(values) if services.canned is not None else []
    context["canned"] = [asdict(c) for c in canned]
    return TEMPLATES.TemplateResponse(request, "handoff.html", context)


@router.get("/handoffs/{handoff_id}/suggestions", response_class=HTMLResponse)
def suggestions(request: Request, me: SignedIn, services: Services, handoff_id: RowId) -> Response:
    """Help articles for the customer's latest message, for the agent to insert with one click (htmx asks for
    this list when the page opens and after each new message from the customer)."""
    handoff = services.desk().get(handoff_id)
    said = [m["text"] for m in services.said(handoff.sender_id) if m.get("who") == "customer"]
    if not said:  # the tracker store is not reachable from here: the packet's transcript
        lines = (handoff.packet.get("conversation") or {}).get("transcript") or []
        said = [t["text"] for t in lines if t.get("who") == "customer" and t.get("text")]
    question = said[-1] if said else ""
    found = services.help_centre().suggest(question) if question and services.knowledge is not None else []
    context = {"suggestions": found, "question": question, "help_centre": services.knowledge is not None}
    return TEMPLATES.TemplateResponse(request, "handoff_suggestions.html", context)


@router.get("/handoffs/{handoff_id}/transcript")
def transcript(
    me: SignedIn, services: Services, handoff_id: RowId, after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0
) -> dict[str, Any]:
    handoff = services.desk().get(handoff_id)
    live = handoff.status in ("waiting", "assigned")
    return {"status": handoff.status, "messages": services.said(handoff.sender_id, after) if live else []}


@router.get("/handoffs/{handoff_id}/events", response_class=EventSourceResponse)
async def transcript_events(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> EventSourceResponse:
    """The live transcript as server-sent events: each new line as a table row ("message", its id the event's),
    and "status" when the handoff is no longer open. The lines so far come from Rasa's event log, new ones from the
    feed every stream of the process shares (a reading every 0.1 s); whether the handoff is still open, from the
    shared reading of the workspace. A browser reconnecting sends the last id it had (Last-Event-ID), and gets only
    what came after."""
    handoff = await run_in_threadpool(services.desk().get, handoff_id)
    resumed = request.headers.get("Last-Event-ID", "")
    after = max(after, int(resumed) if resumed.isdigit() and len(resumed) < 19 else 0)
    row = TEMPLATES.get_template("transcript_row.html")
    feed, pulse = services.transcript_feed(), services.pulse()

    def new_lines(last: int) -> list[dict[str, Any]]:  # without the tracker store there are none to read
        found = feed.lines(handoff.sender_id, last) if feed is not None else []
        return found if found is not None else services.said(handoff.sender_id, last)

    async def stream() -> AsyncIterator[dict[str, str]]:
        last, started, status = after, time.monotonic(), handoff.status
        lines = await run_in_threadpool(services.said, handoff.sender_id, last)  # what came before: from the log
        while True:
            for m in lines:
                last = max(last, int(m["id"]))
                yield {"event": "message", "id": str(m["id"]), "data": row.render(m=m)}
            if status not in ("waiting", "assigned") or time.monotonic() - started >= STREAM_LIFETIME:
                break
            await anyio.sleep(services.transcript_interval)
            lines = await run_in_threadpool(new_lines, last)
            reading = await run_in_threadpool(pulse.reading)  # shared: no query of its own
            if all(handoff_id != open_id for open_id, _, _ in reading.handoffs):
                status = (await run_in_threadpool(services.desk().get, handoff_id)).status
        if status not in ("waiting", "assigned"):
            yield {"event": "status", "data": status}

    return EventSourceResponse(stream(), ping=15)


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
    services.desk().record_reply(handoff_id)
    log.record(who, "handoff.replied", "handoff", handoff_id, customer_id=handoff.customer_id, detail=detail)
    return RedirectResponse(f"/handoffs/{handoff_id}#reply", status_code=303)


@router.post("/handoffs/{handoff_id}/assign", response_class=HTMLResponse)
def assign(
    request: Request,
    me: SignedIn,
    services: Services,
    handoff_id: RowId,
    agent_id: Annotated[int, Form(ge=1, le=MAX_ID)] = 0,
) -> Response:
    """Give an open conversation to another agent (any agent may pass one on: the queue is the team's)."""
    to = next((a for a in services.agents.list_agents() if a.agent_id == agent_id and a.active), None)
    if to is None:
        raise InvalidInput("agent_id", "Choose an active agent to give the conversation to.")
    log = services.audit_log()
    moved = services.desk().reassign(handoff_id, to.agent_id)
    who = actor(request, me)
    log.record(
        who, "handoff.assigned", "handoff", handoff_id, customer_id=moved.customer_id, detail=f"to {to.username}"
    )
    return RedirectResponse(f"/handoffs/{handoff_id}", status_code=303)


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
    services.assign_waiting()  # the agent has room for the next one
    return RedirectResponse("/handoffs", status_code=303)
