"""The health check (public) and the home page: who is signed in and what they may use.

GET  /health                                                    {"status": "ok"}
GET  /                                                          home (any signed-in agent)
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.deps import TEMPLATES, SignedIn

router = APIRouter()


@router.get("/health", include_in_schema=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, _: SignedIn) -> Response:
    return TEMPLATES.TemplateResponse(request, "home.html", {})
