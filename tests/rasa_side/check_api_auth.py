"""Run in Rasa's virtualenv: Rasa's HTTP API as `python -m bot.run_rasa run --enable-api` sets it up (the flags
bot/run_rasa.py adds from RASA_API_TOKEN, read by Rasa's own argument parser; bot/rasa_patches.py applied) lets in
an admin's HS256 JWT signed with the key, and refuses with 401 everything else: no token, the key itself in the
query string (Rasa's `--auth-token` way), a JWT signed with another key, with `alg: none` or another algorithm,
expired (even within sanic-jwt's 3 minutes of leeway), without an expiry, or with a claim PyJWT refuses. Prints
"ok".

    python tests/rasa_side/check_api_auth.py
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import jwt
import requests
from rasa.__main__ import create_argument_parser
from rasa.server import create_app

from bot.run_rasa import arguments

KEY = "a-test-key-for-the-http-api-" + "0123456789abcdef" * 2


def unsigned(header: dict, payload: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def main() -> None:
    argv = arguments(["rasa", "run", "--enable-api"], {"RASA_API_TOKEN": KEY})
    args = create_argument_parser().parse_args(argv[1:])
    assert args.auth_token is None and args.jwt_secret == KEY and args.jwt_method == "HS256", vars(args)
    app = create_app(auth_token=args.auth_token, jwt_secret=args.jwt_secret, jwt_method=args.jwt_method)
    import bot.rasa_patches  # noqa: F401 - as bot/run_rasa.py does before the server takes requests

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = threading.Thread(
        target=lambda: app.run(host="127.0.0.1", port=port, access_log=False, register_sys_signals=False),
        daemon=True,
    )
    server.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
            break
        except requests.RequestException:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)

    now = int(time.time())
    admin = {"user": {"username": "hearth-console", "role": "admin"}, "iat": now, "exp": now + 60}

    def bearer(token: str) -> dict:
        return {"headers": {"Authorization": f"Bearer {token}"}}

    refused = {
        "no token": {},
        "the key in the query string": {"params": {"token": KEY}},
        "the key as a bearer token": bearer(KEY),
        "a JWT signed with another key": bearer(jwt.encode(admin, "another-key-" + "f" * 40, algorithm="HS256")),
        "alg none": bearer(unsigned({"alg": "none", "typ": "JWT"}, admin)),
        "alg None": bearer(unsigned({"alg": "None", "typ": "JWT"}, admin)),
        "another algorithm with the key": bearer(jwt.encode(admin, KEY, algorithm="HS384")),
        "expired": bearer(jwt.encode({**admin, "iat": now - 900, "exp": now - 600}, KEY, algorithm="HS256")),
        "expired a minute ago": bearer(jwt.encode({**admin, "exp": now - 60}, KEY, algorithm="HS256")),
        "without an expiry": bearer(jwt.encode({"user": admin["user"]}, KEY, algorithm="HS256")),
        "a subject that is not a string": bearer(jwt.encode({**admin, "sub": 5}, KEY, algorithm="HS256")),
        "garbage": bearer("not.a.jwt"),
        "the JWT in the query string": {"params": {"access_token": jwt.encode(admin, KEY, algorithm="HS256")}},
    }
    url = f"http://127.0.0.1:{port}/conversations/someone/tracker"
    got = {name: requests.get(url, timeout=10, **kwargs).status_code for name, kwargs in refused.items()}
    assert got == dict.fromkeys(refused, 401), got
    # the admin's JWT gets through the check (409: this server has no model loaded)
    assert requests.get(url, timeout=10, **bearer(jwt.encode(admin, KEY, algorithm="HS256"))).status_code == 409
    print("ok")


if __name__ == "__main__":
    main()
