"""Start the real product with its own run command, on a temporary data folder and free ports."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from shared import web_chat
from tests.rasa_env import ROOT, trained_model

READY_TIMEOUT = 300
# Settings a stack gets from its caller only, never from the environment the tests run in
OWN_SETTINGS = ("CRM_", "TRACKER_", "ACTION_", "RASA_PORT", "CONSOLE_", "WEBSITE_", "WEB_IDENTITY_", "WEBCHAT_")
OWN_SETTINGS += ("SMTP_", "CODE_SENDER", "RASA_URL", "RASA_API_TOKEN", "HANDOFF_", "HELPDESK_", "REST_CLIENTS")
OWN_SETTINGS += ("BIND_ADDRESS",)


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP socket of this machine listens on at `port` (Linux /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # the kernel prints each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(words)) if width == 8 else str(ipaddress.IPv6Address(words)))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rasa_api_refusals(key: str) -> dict[str, dict[str, Any]]:
    """Ways of calling Rasa's HTTP API that must get 401 (requests' keyword arguments), given its key
    (RASA_API_TOKEN): no credentials, the key in the query string (Rasa's --auth-token way, which put it in access
    logs), the key as a bearer token, and admin JWTs signed with another key, unsigned (alg none) or expired."""
    now = int(time.time())
    admin = {"user": {"username": "hearth-console", "role": "admin"}, "iat": now, "exp": now + 60}

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    def bearer(token: str) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {token}"}}

    return {
        "no token": {},
        "the key in the query string": {"params": {"token": key}},
        "another token in the query string": {"params": {"token": "not-the-token"}},
        "the key as a bearer token": bearer(key),
        "a JWT signed with another key": bearer(jwt.encode(admin, "another-key-" + "0" * 40, algorithm="HS256")),
        "an unsigned JWT (alg none)": bearer(f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(admin)}."),
        "an expired JWT": bearer(jwt.encode({**admin, "iat": now - 900, "exp": now - 600}, key, algorithm="HS256")),
    }


@dataclass
class Stack:
    process: subprocess.Popen[str]
    data_dir: Path
    rasa_url: str
    action_port: int
    console_url: str
    website_url: str
    output: list[str] = field(default_factory=list)
    reply_times: list[float] = field(default_factory=list)

    # The bearer token of the REST integration messages are sent as: the run command's 'dev' (which vouches for
    # its senders), or the first of REST_CLIENTS when the stack was started with its own.
    rest_token: str = ""
    # WEB_IDENTITY_SECRET of the stack: the caller's, or the one the run command made in the data folder
    identity_secret: str = ""

    def rest_headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.rest_token}"}

    def send(self, sender: str, text: str, timeout: float = 30, token: str | None = None) -> requests.Response:
        """One message over the REST channel as an integration (by default the run command's), whatever the answer."""
        started = time.perf_counter()
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            headers=self.rest_headers(token),
            timeout=timeout,
        )
        self.reply_times.append(time.perf_counter() - started)
        return response

    def say(self, sender: str, text: str, token: str | None = None) -> list[str]:
        response = self.send(sender, text, token=token)
        assert response.status_code == 200, response.text
        return [m.get("text", "") for m in response.json()]

    def web_sender(self, session_id: str) -> str:
        """The sender id of the conversation of a web chat session (derived from it: shared/web_chat.py)."""
        return web_chat.sender_id(web_chat.sender_key(self.identity_secret), session_id)

    def user_texts(self, sender_id: str) -> list[str]:
        """What Rasa took in from `sender_id`, in order (its tracker store)."""
        with sqlite3.connect(self.data_dir / "tracker.db") as conn:
            rows = conn.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender_id,)
            ).fetchall()
        return [json.loads(row[0])["text"] for row in rows]

    def heard(self, sender_id: str, last: int = 3) -> list[tuple[str, str | None]]:
        """The text and the intent Rasa stored for the last `last` messages from `sender_id`: an assertion's context."""
        with sqlite3.connect(self.data_dir / "tracker.db") as conn:
            rows = conn.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id DESC LIMIT ?",
                (sender_id, last),
            ).fetchall()
        parsed = [json.loads(row[0]) for row in reversed(rows)]
        return [(p.get("text"), ((p.get("parse_data") or {}).get("intent") or {}).get("name")) for p in parsed]

    def crm(self, sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(self.data_dir / "crm.db") as conn:
            return conn.execute(sql, args).fetchall()


@contextmanager
def running_stack(data_dir: Path, **extra_env: str) -> Iterator[Stack]:
    """`python -m hearth run` (what `make run` does), ready to serve; killed afterwards if still running."""
    trained_model()  # train (once) before the clock for readiness starts
    rasa_port, action_port, console_port, website_port = free_port(), free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)}
    env.update(
        HEARTH_DATA_DIR=str(data_dir),
        RASA_PORT=str(rasa_port),
        ACTION_PORT=str(action_port),
        CONSOLE_PORT=str(console_port),
        WEBSITE_PORT=str(website_port),
        **extra_env,
    )
    process = subprocess.Popen(
        [str(ROOT / ".venvs" / "app" / "bin" / "python"), "-m", "hearth", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    s = Stack(
        process,
        data_dir,
        f"http://127.0.0.1:{rasa_port}",
        action_port,
        f"http://127.0.0.1:{console_port}",
        f"http://127.0.0.1:{website_port}",
    )
    reader = threading.Thread(target=lambda: s.output.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + READY_TIMEOUT
    while not any("Hearth is ready" in line for line in s.output):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(s, timeout=10)
            pytest.fail("the run command did not become ready:\n" + "".join(s.output[-80:]))
        time.sleep(0.5)
    own = extra_env.get("REST_CLIENTS")
    s.rest_token = own.split(",")[0].split(":")[1] if own else (data_dir / "rest_client_token").read_text().strip()
    s.identity_secret = extra_env.get("WEB_IDENTITY_SECRET") or (data_dir / "web_identity_secret").read_text().strip()
    try:
        yield s
    finally:
        stop(s)
        (data_dir / "run.log").write_text("".join(s.output))


def stop(s: Stack, timeout: float = 30) -> None:
    """Stop the stack as Ctrl-C does (honcho then stops each child, which runs in its own process
    group); kill the runner's group only if that fails."""
    if s.process.poll() is not None:
        return
    os.killpg(s.process.pid, signal.SIGINT)
    try:
        s.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(s.process.pid, signal.SIGKILL)
        s.process.wait(timeout=10)
