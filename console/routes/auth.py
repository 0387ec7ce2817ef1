"""Signing in and out.

    GET  /login, POST /login                                        the sign-in form (public)
    POST /logout                                                    end the session (any signed-in agent)

Signing in sets the cookie `hearth_console` (HttpOnly, SameSite=Strict, Secure when `secure_cookies`) to a
session token; the database keeps only its hash.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import SESSION_COOKIE, TEMPLATES, Services, SignedIn, forget_cookie
from handoff.agents import MAX_PASSWORD_LENGTH, SESSION_HOURS, Agent

router = APIRouter()


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this site, else "/": never a redirect to another site."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path == "/login":
        return "/"
    return value


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, services: Services, next_: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and services.agents.session_agent(token) is not None:
        return RedirectResponse(safe_next(next_), status_code=303)
    return TEMPLATES.TemplateResponse(request, "login.html", {"next": safe_next(next_), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    services: Services,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/",
) -> Response:
    agents = services.agents
    agent: Agent | None = agents.authenticate(username, password)
    if agent is None:
        context = {
            "next": safe_next(next_),
            "username": username[:40],
            "error": "That username and password don't match an active account.",
        }
        return TEMPLATES.TemplateResponse(request, "login.html", context, status_code=401)
    if old := request.cookies.get(SESSION_COOKIE):
        agents.end_session(old)
    token, _ = agents.start_session(agent.agent_id)
    response = RedirectResponse(safe_next(next_), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        secure=services.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, _: SignedIn, services: Services) -> Response:
    services.agents.end_session(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    forget_cookie(request, response)
    return response
