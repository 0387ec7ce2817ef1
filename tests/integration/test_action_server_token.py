"""The action server (actions/serve.py, the run command's `actions` process) answers only callers with the shared
ACTION_SERVER_TOKEN, and the Rasa server sends it: real processes over HTTP, in both virtualenvs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from hearth.environment import environment
from tests.e2e.stack import free_port
from tests.rasa_env import RASA_PY, ROOT

pytestmark = pytest.mark.integration

APP_PY = ROOT / ".venvs" / "app" / "bin" / "python"
TOKEN = "test-action-server-token-" + "x" * 20
UNKNOWN_ACTION_CALL = {
    "next_action": "action_that_does_not_exist",
    "sender_id": "token-test",
    "version": "3.6.21",
    "domain": {},
    "tracker": {
        "sender_id": "token-test",
        "slots": {},
        "latest_message": {},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": None,
    },
}


@dataclass
class ActionServer:
    url: str
    log: Path
    env: dict[str, str]


def server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """What the run command gives its processes, for a data folder of the test's own."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(hearth_settings())}
    return environment({**base, "HEARTH_DATA_DIR": str(data_dir), **settings})


def hearth_settings() -> tuple[str, ...]:
    return ("ACTION_", "CRM_", "TRACKER_", "HEARTH_", "RABBITMQ_")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    data_dir = tmp_path_factory.mktemp("action-server")
    port = free_port()
    env = server_env(data_dir, ACTION_SERVER_TOKEN=TOKEN, ACTION_PORT=str(port), SANIC_HOST="127.0.0.1")
    log = data_dir / "actions.log"
    with log.open("w") as out:
        # the Procfile's command line
        process = subprocess.Popen(
            [str(APP_PY), "-m", "actions.serve", "--actions", "actions", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the action server did not start:\n" + log.read_text()[-4000:])
            time.sleep(0.2)
        yield ActionServer(url, log, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_health_needs_no_token(action_server: ActionServer) -> None:
    response = requests.get(f"{action_server.url}/health", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}],
    ids=["none", "wrong", "longer", "no-scheme"],
)
def test_webhook_and_actions_refuse_a_missing_or_wrong_token(action_server: ActionServer, headers) -> None:  # type: ignore[no-untyped-def]
    webhook = requests.post(f"{action_server.url}/webhook", json=UNKNOWN_ACTION_CALL, headers=headers, timeout=10)
    listing = requests.get(f"{action_server.url}/actions", headers=headers, timeout=10)
    for response in (webhook, listing):
        assert response.status_code == 401, response.text
        assert "token" in response.json()["error"]
    assert TOKEN not in action_server.log.read_text()


def test_the_right_token_reaches_rasa_sdk(action_server: ActionServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    webhook = requests.post(f"{action_server.url}/webhook", json=UNKNOWN_ACTION_CALL, headers=auth, timeout=10)
    assert webhook.status_code == 404, webhook.text  # rasa-sdk's answer to an action it does not have
    assert webhook.json()["action_name"] == "action_that_does_not_exist"
    listing = requests.get(f"{action_server.url}/actions", headers=auth, timeout=10)
    assert listing.status_code == 200 and {"name": "action_session_start"} in listing.json()


def test_refusals_are_logged_without_the_token(action_server: ActionServer) -> None:
    requests.get(f"{action_server.url}/actions", headers={"Authorization": "Bearer a-guess"}, timeout=10)
    time.sleep(0.2)
    log = action_server.log.read_text()
    assert "refused GET /actions" in log and "wrong action server token" in log
    assert "a-guess" not in log and TOKEN not in log


def test_the_rasa_server_sends_the_token_from_its_endpoints_file(action_server: ActionServer, tmp_path: Path) -> None:
    """Rasa's own EndpointConfig, read from the file the run command hands it, calling the real action server."""
    env = server_env(tmp_path, ACTION_SERVER_TOKEN=TOKEN, ACTION_ENDPOINT_URL=f"{action_server.url}/webhook")
    result = subprocess.run(
        [str(RASA_PY), "tests/rasa_side/check_action_endpoint.py", env["HEARTH_ENDPOINTS"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout + result.stderr[-4000:]


@pytest.mark.parametrize("token", [None, "", "too-short"])
def test_the_action_server_does_not_start_without_a_proper_token(tmp_path: Path, token: str | None) -> None:
    env = server_env(tmp_path, ACTION_PORT=str(free_port()))
    env.pop("ACTION_SERVER_TOKEN")
    if token is not None:
        env["ACTION_SERVER_TOKEN"] = token
    result = subprocess.run(
        [str(APP_PY), "-m", "actions.serve", "--actions", "actions", "--port", env["ACTION_PORT"]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "ACTION_SERVER_TOKEN must be set" in result.stderr, result.stderr[-2000:]


def test_the_action_server_masks_emails_and_phone_numbers_in_its_log(action_server: ActionServer) -> None:
    call = {**UNKNOWN_ACTION_CALL, "next_action": "action_for_anna.berg@example.com_on_+447700900123"}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.post(f"{action_server.url}/webhook", json=call, headers=auth, timeout=10)
    assert response.status_code == 404  # rasa-sdk logs the unknown name
    time.sleep(0.2)
    log = action_server.log.read_text()
    assert "No registered action found for name 'a***@example.com_on_+**********23'" in log
    assert "anna.berg" not in log and "447700900123" not in log


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_health_answers_other_methods_with_a_clean_405(action_server: ActionServer, method: str) -> None:
    response = requests.request(method, f"{action_server.url}/health", json={"x": 1}, timeout=10)
    assert response.status_code == 405, response.text
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert response.json() == {"error": f"Method {method} not allowed for URL /health"}
    time.sleep(0.2)
    log = action_server.log.read_text()
    assert f"answered {method} /health with 405" in log
    assert "Traceback" not in log and "Exception occurred" not in log


def test_health_answers_head_like_get(action_server: ActionServer) -> None:
    assert requests.head(f"{action_server.url}/health", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [("GET", "/webhook", 405, "POST"), ("PUT", "/actions", 405, "GET"), ("DELETE", "/webhook", 405, "POST")],
)
def test_wrong_methods_on_the_other_routes_get_a_clean_405(
    action_server: ActionServer, method: str, path: str, status: int, allow: str
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = requests.request(method, f"{action_server.url}{path}", headers=auth, timeout=10)
    assert response.status_code == status and response.headers["Allow"] == allow, response.text
    time.sleep(0.2)
    assert "Traceback" not in action_server.log.read_text()


def test_unknown_paths_and_malformed_bodies_get_a_clean_4xx(action_server: ActionServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    unknown = requests.get(f"{action_server.url}/no-such-route", headers=auth, timeout=10)
    assert unknown.status_code == 404 and unknown.json() == {"error": "Requested URL /no-such-route not found"}
    malformed = requests.post(
        f"{action_server.url}/webhook",
        data=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
        timeout=10,
    )
    assert malformed.status_code == 400, malformed.text
    assert "error" in malformed.json()
    time.sleep(0.2)
    log = action_server.log.read_text()
    assert "Traceback" not in log and "Exception occurred" not in log
