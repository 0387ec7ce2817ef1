"""The action server: rasa-sdk's own server, answering only the Rasa server.

    python -m actions.serve --actions actions --port 5055     (the run command's `actions` process)

The arguments, logging set-up and server are `python -m rasa_sdk`'s (its argument parser, `main_from_args`
and `run`, with the routes of `rasa_sdk.endpoint.create_app`), plus:

- every route but ``/health`` needs the shared secret ACTION_SERVER_TOKEN, as ``Authorization: Bearer
  <token>`` (bot/endpoints.yml makes the Rasa server send it); without it, or with another one, the answer is
  401 ``{"error": ...}``. The server does not start without a token of 32 or more characters
  (`python -m hearth` makes a development one in the data folder);
- emails and phone numbers are masked in every log line (shared/log_redaction.py).

The token is added through rasa-sdk's plugin hook (`attach_sanic_app_extensions`), which `run` calls on the
app it builds, so the server is otherwise exactly rasa-sdk's.
"""

from __future__ import annotations

import hmac
import logging
import sys
from typing import Any

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from shared import log_redaction

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


class TokenPlugin:
    """rasa-sdk plugin (pluggy) that puts `require_token` on the app `rasa_sdk.endpoint.run` builds."""

    def __init__(self, token: str) -> None:
        self.token = token

    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        require_token(app, self.token)


def token_from_env(env: dict[str, str] | None = None) -> str:
    from hearth.settings import Settings

    token = Settings.from_env(env).action_server_token or ""
    if len(token) < MIN_TOKEN_CHARS:
        sys.exit(
            f"{TOKEN_VARIABLE} must be set to a secret of {MIN_TOKEN_CHARS} or more characters (the Rasa server "
            "sends the same one), e.g. the output of `openssl rand -hex 32`; `python -m hearth run` makes one"
        )
    return token


def main(argv: list[str] | None = None) -> None:
    log_redaction.install()
    from rasa_sdk.__main__ import main_from_args
    from rasa_sdk.endpoint import create_argument_parser
    from rasa_sdk.plugin import plugin_manager

    args: Any = create_argument_parser().parse_args(argv)
    plugin_manager().register(TokenPlugin(token_from_env()))
    main_from_args(args)


if __name__ == "__main__":
    main()
