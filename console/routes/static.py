"""The console's own scripts and style sheet (public: they hold nothing of anyone's).

GET  /static/console.css, /static/console.js                    the workspace's layout and its keyboard shortcuts
GET  /static/htmx.min.js, /static/sse.js                        htmx and its server-sent events extension, from the
                                                                npm registry at the versions console/package-lock.json
                                                                pins (scripts/bootstrap.sh installs them)
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

router = APIRouter()
HERE = Path(__file__).resolve().parents[1]
FILES = {
    "console.css": (HERE / "static" / "console.css", "text/css"),
    "console.js": (HERE / "static" / "console.js", "text/javascript"),
    "htmx.min.js": (HERE / "node_modules" / "htmx.org" / "dist" / "htmx.min.js", "text/javascript"),
    "sse.js": (HERE / "node_modules" / "htmx-ext-sse" / "dist" / "sse.min.js", "text/javascript"),
}
STATIC_PATHS = frozenset(f"/static/{name}" for name in FILES)


def _file(name: str) -> Response:
    path, media_type = FILES[name]
    if not path.is_file():
        return Response(f"{name} is missing: run `make setup`", status_code=503, media_type="text/plain")
    response = FileResponse(path, media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@router.get("/static/console.css", include_in_schema=False)
def console_css() -> Response:
    return _file("console.css")


@router.get("/static/console.js", include_in_schema=False)
def console_js() -> Response:
    return _file("console.js")


@router.get("/static/htmx.min.js", include_in_schema=False)
def htmx() -> Response:
    return _file("htmx.min.js")


@router.get("/static/sse.js", include_in_schema=False)
def sse() -> Response:
    return _file("sse.js")
