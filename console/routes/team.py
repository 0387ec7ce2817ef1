"""The team (admins): each agent's capacity for auto-assignment, who is online and what they have open, and the
response targets (SLAs) every conversation is measured against.

GET  /team                                                      agents, their load and capacity; the targets
POST /team/{agent_id}/capacity                                  how many conversations auto-assignment gives them
POST /team/targets                                              the first-reply and resolution targets
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import TEMPLATES, Admin, RowId, Services, actor
from handoff.agents import MAX_CAPACITY
from workspace.sla import MAX_MINUTES

router = APIRouter()
Minutes = Annotated[int, Form(ge=0, le=10 * MAX_MINUTES)]


@router.get("/team", response_class=HTMLResponse)
def team_page(request: Request, me: Admin, services: Services) -> Response:
    places = services.desk().queue()
    load: dict[int, int] = {}
    for place in places:
        if place.handoff.status == "assigned" and place.handoff.agent_id is not None:
            load[place.handoff.agent_id] = load.get(place.handoff.agent_id, 0) + 1
    context = {
        "agents": services.agents.list_agents(),
        "online": {a.agent_id for a in services.agents.online_agents()},
        "load": load,
        "waiting": sum(1 for p in places if p.handoff.status == "waiting"),
        "targets": services.response_targets().get(),
        "auto_assign": services.assign is not None,
        "max_capacity": MAX_CAPACITY,
    }
    return TEMPLATES.TemplateResponse(request, "team.html", context)


@router.post("/team/{agent_id}/capacity", response_class=HTMLResponse)
def set_capacity(
    request: Request,
    me: Admin,
    services: Services,
    agent_id: RowId,
    capacity: Annotated[int, Form(ge=0, le=MAX_CAPACITY)] = 3,
) -> Response:
    log = services.audit_log()
    agent = services.agents.set_capacity(agent_id, capacity)
    log.record(actor(request, me), "agent.capacity", "agent", agent.username, detail=f"capacity {capacity}")
    services.assign_waiting()  # more room may take a waiting conversation now
    return RedirectResponse("/team#agents", status_code=303)


@router.post("/team/targets", response_class=HTMLResponse)
def set_targets(
    request: Request, me: Admin, services: Services, first_response: Minutes = 0, resolution: Minutes = 0
) -> Response:
    log = services.audit_log()
    targets = services.response_targets().set(first_response, resolution, by=me.agent.username)
    detail = f"first reply {targets.first_response_minutes} min, resolution {targets.resolution_minutes} min"
    log.record(actor(request, me), "targets.changed", "targets", "response targets", detail=detail)
    return RedirectResponse("/team#targets", status_code=303)
