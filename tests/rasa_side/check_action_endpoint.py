"""Run in Rasa's virtualenv with ACTION_SERVER_TOKEN and ACTION_ENDPOINT_URL (a running action server) set: the
action endpoint Rasa reads from the endpoints file sends the token, and the action server lets that call in (404 for
an unknown action) but refuses the same call without it or with another token (401); the same again with
bot/rasa_patches.py applied (one kept session per endpoint), and that calls through one endpoint share one
connection. Prints "ok".

    python tests/rasa_side/check_action_endpoint.py <endpoints file>
"""

from __future__ import annotations

import asyncio
import os
import sys

from rasa.utils.endpoints import ClientResponseError, EndpointConfig, read_endpoint_config

CALL = {
    "next_action": "action_that_does_not_exist",
    "sender_id": "token-check",
    "version": "3.6.21",
    "tracker": {"sender_id": "token-check", "slots": {}, "latest_message": {}, "events": [], "paused": False},
    "domain": {},
}


async def status(endpoint: EndpointConfig) -> int:
    """The HTTP status of an action call through `endpoint`, the way Rasa's RemoteAction makes it."""
    try:
        await endpoint.request(json=CALL, method="post", timeout=10)
    except ClientResponseError as error:
        return error.status
    return 200


def main(path: str) -> None:
    token = os.environ["ACTION_SERVER_TOKEN"]
    endpoint = read_endpoint_config(path, "action_endpoint")
    assert endpoint is not None and endpoint.url == os.environ["ACTION_ENDPOINT_URL"], endpoint and endpoint.url
    assert endpoint.headers == {"Authorization": f"Bearer {token}"}, "the token is not in the Authorization header"
    assert not endpoint.token and not endpoint.params, "the token must not go into the URL"
    assert endpoint.copy().headers == endpoint.headers  # Rasa copies endpoints (e.g. for forms)

    def variant(headers: dict[str, str]) -> EndpointConfig:
        return EndpointConfig(endpoint.url, headers=headers, **endpoint.kwargs)

    async def statuses() -> dict[str, int]:
        return {
            "from the endpoints file": await status(endpoint),
            "without a token": await status(variant({})),
            "with another token": await status(variant({"Authorization": "Bearer not-the-token"})),
        }

    expected = {"from the endpoints file": 404, "without a token": 401, "with another token": 401}
    got = asyncio.run(statuses())
    assert got == expected, got
    import bot.rasa_patches  # noqa: F401 - as the server runs

    got = asyncio.run(statuses())
    assert got == expected, f"with the kept sessions: {got}"
    assert asyncio.run(connections_for(5)) == 1, "calls through one endpoint should share one connection"
    print("ok")


async def connections_for(calls: int) -> int:
    """How many connections a local server saw for `calls` calls through one endpoint."""
    from aiohttp import web

    peers = set()

    async def answer(request: web.Request) -> web.Response:
        peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        for _ in range(calls):
            assert await endpoint.request(json=CALL, method="post") == {"events": [], "responses": []}
    finally:
        await runner.cleanup()
    return len(peers)


if __name__ == "__main__":
    main(sys.argv[1])
