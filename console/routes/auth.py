"""Signing in and out.

    GET  /login, POST /login                                        the sign-in form (public)
    POST /logout                                                    end the session (any signed-in agent)

Signing in sets the cookie `hearth_console` (HttpOnly, SameSite=Strict, Secure when `secure_cookies`) to a
session token; the database keeps only its hash.

The sign-in form is protected against cross-site posting (login CSRF) by a double-submitted token: GET /login
sets the cookie `hearth_login_csrf` (HttpOnly, SameSite=Strict, Path=/login) to a random token and puts the same
token in the form's `csrf` field; a POST /login whose field does not match the cookie is refused with a 403.
Wrong passwords are throttled per username and per client address (`SqlAgentService.sign_in`): a 429 with
Retry-After, the same whether or not the username exists.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import SESSION_COOKIE, TEMPLATES, Services, SignedIn, forget_cookie
from handoff.agents import MAX_PASSWORD_LENGTH, SESSION_HOURS, Agent, TooManyAttempts

router = APIRouter()
LOGIN_CSRF_COOKIE = "hearth_login_csrf"
LOGIN_CSRF_HOURS = 12


def _login_token(request: Request) -> str:
    """The pre-session token of this browser (its cookie's), or a new one."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return token if 40 <= len(token) <= 64 and token.isascii() else secrets.token_urlsafe(32)


def _login_page(request: Request, services: Services, context: dict[str, Any], status: int = 200) -> Response:
    """The sign-in form, carrying the browser's pre-session token; a GET (re)sets its cookie (a POST only got
    this far with the cookie's token)."""
    token = _login_token(request)
    response = TEMPLATES.TemplateResponse(request, "login.html", context | {"login_csrf": token}, status_code=status)
    if request.method == "POST":
        return response
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_HOURS * 3600,
        path="/login",
        secure=services.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response


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
    return _login_page(request, services, {"next": safe_next(next_), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    services: Services,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        message = "This sign-in form has expired or did not come from the console: reload the page and try again."
        return TEMPLATES.TemplateResponse(request, "error.html", {"status": 403, "message": message}, status_code=403)
    agents = services.agents
    context = {"next": safe_next(next_), "username": username[:40]}
    address = request.client.host if request.client is not None else "unknown"
    try:
        agent: Agent | None = agents.sign_in(username, password, address)
    except TooManyAttempts as exc:
        minutes = (exc.retry_after + 59) // 60
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        error = f"Too many sign-in attempts. Wait {wait} and try again."
        response = _login_page(request, services, context | {"error": error}, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if agent is None:
        error = "That username and password don't match an active account."
        return _login_page(request, services, context | {"error": error}, status=401)
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
