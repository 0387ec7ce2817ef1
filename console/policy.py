"""The console's route policy: every route outside `PUBLIC_PATHS` declares who may use it with one of the
dependencies `current_agent` (any signed-in agent or admin; the `SignedIn` annotation) or `require_admin`
(`Admin`). `create_app` refuses to build an app with a route that has neither, and
tests/integration/test_console_auth.py checks every route's behaviour against its dependency."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from console.deps import current_agent, require_admin
from console.routes.static import STATIC_PATHS

PUBLIC_PATHS = frozenset({"/login", "/health", *STATIC_PATHS})


def _dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependency_calls(sub)


def required_role(route: APIRoute) -> str | None:
    """ "admin" or "agent" from the route's dependencies; None when it has no auth dependency."""
    calls = set(_dependency_calls(route.dependant))
    if require_admin in calls:
        return "admin"
    if current_agent in calls:
        return "agent"
    return None


def _served_routes(app: FastAPI) -> Iterator[tuple[str | None, BaseRoute]]:
    """(path, route) of every route the app serves, those of its included routers too (FastAPI keeps an
    included router as one entry of `app.routes`)."""
    for context in iter_route_contexts(app.routes):
        yield context.path, context.original_route


def check_route_policy(app: FastAPI) -> None:
    """Every route is public (in PUBLIC_PATHS) or declares an auth dependency; refuse to start otherwise."""
    unprotected = [
        f"{','.join(sorted(getattr(route, 'methods', None) or []))} {path or route}"
        for path, route in _served_routes(app)
        if path not in PUBLIC_PATHS and not (isinstance(route, APIRoute) and required_role(route) is not None)
    ]
    if unprotected:
        raise RuntimeError(
            "console routes without a policy (depend on current_agent or require_admin, or add the path to "
            f"PUBLIC_PATHS): {'; '.join(unprotected)}"
        )
