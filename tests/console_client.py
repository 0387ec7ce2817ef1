"""Signing in to the agent console over HTTP as a browser does: open the sign-in form (which sets the
pre-session cookie and carries its token), then post the form with that token and that cookie."""

from __future__ import annotations

import re
from typing import Any

import requests

from console.routes.auth import LOGIN_CSRF_COOKIE

LOGIN_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def open_login_form(http: requests.Session, url: str) -> requests.Response:
    form = http.get(f"{url}/login", allow_redirects=False, timeout=30)
    assert form.status_code == 200, form.text
    return form


def login_token(http: requests.Session, url: str) -> str:
    """The sign-in form's token; `http` keeps the pre-session cookie that goes with it."""
    found = LOGIN_CSRF.search(open_login_form(http, url).text)
    assert found is not None, "the sign-in form carries no CSRF token"
    return found.group(1)


def post_login(
    url: str, data: dict[str, str], http: requests.Session | None = None, **kwargs: Any
) -> requests.Response:
    """POST /login with `data`, as a browser (`http`, a fresh session by default) that first opened the form.
    The pre-session cookie is sent explicitly, as the browser would even when it is Secure (on the loopback
    address, which browsers treat as a secure origin; requests sends Secure cookies over HTTPS only)."""
    http = http if http is not None else requests.Session()
    form = open_login_form(http, url)
    found = LOGIN_CSRF.search(form.text)
    assert found is not None, "the sign-in form carries no CSRF token"
    cookies = {LOGIN_CSRF_COOKIE: form.cookies[LOGIN_CSRF_COOKIE]}
    return http.post(f"{url}/login", data=data | {"csrf": found.group(1)}, cookies=cookies, **{"timeout": 30} | kwargs)
