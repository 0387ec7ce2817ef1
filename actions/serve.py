"""The action server: rasa-sdk's own server, answering only the Rasa server.

    python -m actions.serve --actions actions --port 5055     (the run command's `actions` process)

The arguments, logging set-up and server are `python -m rasa_sdk`'s (its argument parser, `main_from_args`
and `run`, with the routes of `rasa_sdk.endpoint.create_app`), plus:

- every route but ``/health`` needs the shared secret ACTION_SERVER_TOKEN, as ``Authorization: Bearer
  <token>`` (bot/endpoints.yml makes the Rasa server send it); without it, or with another one, the answer is
  401 ``{"error": ...}``. The server does not start without a token of 32 or more characters
  (`python -m hearth` makes a development one in the data folder);
- it listens on the loopback address unless BIND_ADDRESS names another (rasa-sdk's default is every interface);
- emails and phone numbers are masked in every log line (shared/log_redaction.py);
- a request the routes do not take (a wrong method, an unknown path, a body that is not JSON) gets Sanic's own
  4xx answer (405 with an ``Allow`` header, 404, 400) as ``{"error": ...}``, logged in one line without a
  traceback: rasa-sdk's catch-all handler would turn it into a 500 with one. ``HEAD /health`` answers like
  ``GET /health``.

The token and the answers are added through rasa-sdk's plugin hook (`attach_sanic_app_extensions`), which `run`
calls on the app it builds, so the server is otherwise exactly rasa-sdk's.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
import threading
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from shared import blas, log_redaction

TOKEN_VARIABLE = "ACTION_SERVER_TOKEN"
MIN_TOKEN_CHARS = 32
OPEN_PATHS = frozenset({"/health"})  # readiness checks and load balancers need no secret

log = logging.getLogger("actions.serve")
hookimpl = pluggy.HookimplMarker("rasa_sdk")


def require_token(app: Sanic, token: str) -> None:
    """Refuse (401) every request to `app` outside OPEN_PATHS that does not carry `Authorization: Bearer <token>`.
    The comparison takes the same time however much of the token is right; the token is never logged."""
    expected = token.encode()

    @app.middleware("request")
    async def check_action_server_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(errors="replace"), expected):
            return None
        problem = "wrong action server token" if given else "missing action server token"
        log.warning("refused %s %s from %s: %s", request.method, request.path, request.ip, problem)
        return response.json({"error": f"{problem}: the Rasa server sends Authorization: Bearer <token>"}, 401)


def answer_request_errors(app: Sanic) -> None:
    """Answer Sanic's request errors (wrong method, unknown path, malformed body) with their own 4xx status and
    headers, in one log line; and take ``HEAD /health`` as rasa-sdk takes ``GET /health``."""

    @app.exception(SanicException)  # more specific than rasa-sdk's handler for Exception, so it wins
    async def request_error(request: Request, exception: SanicException) -> HTTPResponse:
        status = exception.status_code or 500
        log.info("answered %s %s with %d: %s", request.method, request.path, status, exception)
        headers = getattr(exception, "headers", None) or {}
        return response.json({"error": str(exception)}, status=status, headers=dict(headers))

    async def health_head(request: Request) -> HTTPResponse:
        return response.empty(status=200)

    app.add_route(health_head, "/health", methods=["HEAD"], name="health_head")


class TokenPlugin:
    """rasa-sdk plugin (pluggy) that puts `require_token` and `answer_request_errors` on the app
    `rasa_sdk.endpoint.run` builds."""

    def __init__(self, token: str) -> None:
        self.token = token

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        require_token(app, self.token)
        answer_request_errors(app)


def token_from_env(env: dict[str, str] | None = None) -> str:
    from hearth.settings import Settings

    token = Settings.from_env(env).action_server_token or ""
    if len(token) < MIN_TOKEN_CHARS:
        sys.exit(
            f"{TOKEN_VARIABLE} must be set to a secret of {MIN_TOKEN_CHARS} or more characters (the Rasa server "
            "sends the same one), e.g. the output of `openssl rand -hex 32`; `python -m hearth run` makes one"
        )
    return token


def warm_up() -> None:
    """Loads the sentence encoder (checksum-verified) and builds the help centre's index, so the first
    customer question does not wait for them; a failure here is logged, and the first question says it again."""
    try:
        from hearth.container import get_knowledge

        get_knowledge().search("warming up")
    except Exception as exc:  # anything: the server must start regardless
        log.warning("the help centre was not warmed up: %s", exc)


def main(argv: list[str] | None = None) -> None:
    log_redaction.install()
    blas.one_thread()  # before the actions load NumPy
    threading.Thread(target=warm_up, name="help-centre-warm-up", daemon=True).start()
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.plugin import plugin_manager

    args: Any = create_argument_parser().parse_args(argv)
    plugin_manager().register(TokenPlugin(token_from_env()))
    # rasa-sdk listens on SANIC_HOST, by default every interface: here the loopback address unless BIND_ADDRESS
    # says otherwise (a container sets 0.0.0.0)
    os.environ["SANIC_HOST"] = os.environ.get("BIND_ADDRESS") or "127.0.0.1"
    main_from_args(args)


if __name__ == "__main__":
    main()
