"""Production mode on one machine, configured by environment variables only, and its faults.

`python -m hearth run` with HEARTH_ENV=production: PostgreSQL for the tracker store and the CRM, the Redis
lock store, the RabbitMQ event broker, two Rasa servers and two action servers (each under a restart loop, as
a supervisor would keep them) behind Debian's nginx. The CRM database is reached through a TCP relay the
tests can cut (tests/tcp_proxy.py), to take it "down" without stopping the machine's PostgreSQL.

The tests share one stack and run in order: concurrency first, then the faults.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from crm_adapter.rasa_api import RasaConversations
from hearth.processes import processes
from tests.e2e.stack import Stack, free_port, listening_addresses, rasa_api_refusals, running_stack
from tests.e2e.test_history_ingestion import history_of
from tests.rasa_env import ROOT
from tests.services import delete_queue, nginx_path, rabbitmq_url, redis_url, temporary_postgres_database
from tests.tcp_proxy import TcpProxy, tcp_proxy
from tests.waiting import wait_for
from tests.web_chat_client import WebChatClient

pytestmark = pytest.mark.e2e

APOLOGY = "I'm sorry, I can't reach our customer system right now"  # utter_crm_unavailable
APP_PYTHON = str(ROOT / ".venvs" / "app" / "bin" / "python")


@dataclass
class Production:
    stack: Stack
    env: dict[str, str]
    crm_url: str  # direct, not through the relay
    tracker_url: str
    crm_relay: TcpProxy
    rasa_ports: list[int]
    action_ports: list[int]

    def events(self, sender: str) -> list[tuple[str, str | None]]:
        """The conversation in the tracker store: (event type, text or action name), in stored order."""
        return [(kind, what) for kind, what, _ in self.timed_events(sender)]

    def timed_events(self, sender: str) -> list[tuple[str, str | None, float]]:
        engine = create_engine(self.tracker_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT type_name, action_name, data, timestamp FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": sender},
            ).all()
        engine.dispose()
        return [(t, json.loads(d).get("text") if t in ("user", "bot") else a, at) for t, a, d, at in rows]

    def served_by(self) -> Counter[str]:
        """Which upstream served each request, from nginx's access log: 'rasa:<port>' / 'actions:<port>'."""
        log = (self.stack.data_dir / "nginx" / "access.log").read_text()
        counts: Counter[str] = Counter()
        for line in log.splitlines():
            for port in re.findall(r"127\.0\.0\.1:(\d+)", line.split("upstream=", 1)[-1]):
                kind = "rasa" if int(port) in self.rasa_ports else "actions"
                counts[f"{kind}:{port}"] += 1
        return counts

    def loop_shell(self, variable: str, port: int) -> int:
        (pid,) = processes(self.stack.data_dir, f"export {variable}={port};".encode())
        return pid

    def server_pid(self, marker: bytes, port: int) -> int:
        (pid,) = [
            pid
            for pid in processes(self.stack.data_dir, marker)
            if f"\0{port}\0".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        return pid

    def kill_and_hold(self, role: str, port: int) -> int:
        """SIGKILL one replica and pause its restart loop; returns the loop's pid for `release`."""
        variable, marker = {
            "rasa": ("RASA_PORT", b"bot.run_rasa\x00run"),
            "actions": ("ACTION_PORT", b"actions.serve"),
        }[role]
        shell = self.loop_shell(variable, port)
        os.kill(shell, signal.SIGSTOP)
        os.kill(self.server_pid(marker, port), signal.SIGKILL)
        return shell

    def release(self, shell: int, url: str, timeout: float = 240) -> float:
        """Let a paused restart loop start its server again; wait until `url` answers; returns the seconds."""
        started = time.monotonic()
        os.kill(shell, signal.SIGCONT)
        while time.monotonic() - started < timeout:
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.RequestException:
                pass
            time.sleep(0.5)
        pytest.fail(f"{url} did not come back in {timeout:.0f} s:\n" + "".join(self.stack.output[-60:]))


def say(stack: Stack, sender: str, message: str) -> tuple[int, list[str]]:
    response = stack.send(sender, message, timeout=120)
    texts = [m.get("text", "") for m in response.json()] if response.status_code == 200 else [response.text]
    return response.status_code, texts


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    nginx_path()
    redis = redis_url()
    with ExitStack() as resources:
        crm_url = resources.enter_context(temporary_postgres_database())
        tracker_url = resources.enter_context(temporary_postgres_database()).replace("+psycopg2", "")
        crm = make_url(crm_url)
        relay = resources.enter_context(tcp_proxy(crm.host or "127.0.0.1", crm.port or 5432))
        relayed_crm_url = crm.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        queue = f"hearth_test_{uuid.uuid4().hex[:8]}"
        rasa_ports, action_ports = [free_port(), free_port()], [free_port(), free_port()]
        env = {
            "HEARTH_ENV": "production",
            "TRACKER_DB_URL": tracker_url,
            "CRM_DATABASE_URL": relayed_crm_url,
            "REDIS_URL": redis,
            "RABBITMQ_URL": rabbitmq_url(),
            "HISTORY_QUEUE": queue,
            "HISTORY_BATCH": "50",
            "WEB_IDENTITY_SECRET": secrets.token_hex(32),
            "RASA_API_TOKEN": secrets.token_hex(32),
            "ACTION_SERVER_TOKEN": secrets.token_hex(32),
            "CRM_SECRET": secrets.token_hex(32),
            "REST_CLIENTS": f"shop-app:{secrets.token_hex(32)}",  # an integration that does not vouch for senders
            "CODE_SENDER": "log",
            "RASA_REPLICAS": "2",
            "ACTION_REPLICAS": "2",
            "RASA_REPLICA_PORTS": ",".join(map(str, rasa_ports)),
            "ACTION_REPLICA_PORTS": ",".join(map(str, action_ports)),
            "ACTION_SERVER_TIMEOUT": "10",
        }
        # production adds no demo data: the shop's customers are loaded as an operator would
        seed_env = {**os.environ, "CRM_DATABASE_URL": crm_url, "CRM_SECRET": env["CRM_SECRET"], "PYTHONPATH": str(ROOT)}
        for command in (["migrate"], ["seed", "--customers", "20"]):
            subprocess.run([APP_PYTHON, "-m", "hearth", *command], cwd=ROOT, env=seed_env, check=True)
        data_dir = tmp_path_factory.mktemp("production")
        stack = resources.enter_context(running_stack(data_dir, **env))
        yield Production(stack, env, crm_url, tracker_url, relay, rasa_ports, action_ports)
        delete_queue(env["RABBITMQ_URL"], queue)


def test_production_refuses_to_start_without_its_secrets_and_makes_none(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TRACKER_", "WEB_IDENTITY", "RASA_API"))}
    env.update(
        HEARTH_ENV="production", HEARTH_DATA_DIR=str(tmp_path), TRACKER_DB_URL="sqlite:///t.db", RASA_REPLICAS="2"
    )
    env.pop("ACTION_SERVER_TOKEN", None)
    env.pop("REDIS_URL", None)
    result = subprocess.run([APP_PYTHON, "-m", "hearth", "run"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    for problem in (
        "WEB_IDENTITY_SECRET is not set",
        "RASA_API_TOKEN is not set",
        "ACTION_SERVER_TOKEN is not set",
        "CRM_SECRET is not set",
        "TRACKER_DB_URL is a SQLite file",
        "CRM_DATABASE_URL is not set",
        "REDIS_URL is not set",
    ):
        assert problem in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []  # no development secret was made


def test_concurrent_conversations_through_both_servers_stay_complete_and_in_order(production: Production):
    """20 customers at once, each also sending two messages at the same moment now and then (a double tap),
    which nginx spreads over both Rasa servers: the Redis lock must still serialise each conversation."""
    stack = production.stack
    script = ["hi", "what are your opening hours", "do you deliver abroad", "how do returns work", "thanks"]
    senders = [f"prod-{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(20)]
    failures: list[tuple[str, int, list[str]]] = []

    def converse(sender: str) -> list[str]:
        sent = []
        with ThreadPoolExecutor(2) as pair:
            for turn in range(3):
                for message in script:
                    status, texts = say(stack, sender, message)
                    sent.append(message)
                    if status != 200:
                        failures.append((sender, status, texts))
                double = [f"are you a bot {turn}", f"how do returns work {turn}"]
                for status, texts in pair.map(lambda m: say(stack, sender, m), double):
                    if status != 200:
                        failures.append((sender, status, texts))
                sent.extend(double)
        return sent

    with ThreadPoolExecutor(len(senders)) as pool:
        sent = dict(zip(senders, pool.map(converse, senders), strict=True))
    assert failures == []

    for sender in senders:
        events = production.events(sender)
        users = [t for kind, t in events if kind == "user"]
        assert Counter(users) == Counter(sent[sender]), f"{sender}: lost or doubled messages"
        assert users[: len(script)] == sent[sender][: len(script)]  # the sequential part keeps its order
        # no interleaving: every message's turn ends (action_listen) before the next message is taken in
        # and each message was taken in after the previous turn had finished (the event times, not only the order)
        turns = [(k, t, at) for k, t, at in production.timed_events(sender) if k == "user" or t == "action_listen"]
        for (kind, what, at), (next_kind, next_what, next_at) in zip(turns, turns[1:], strict=False):
            assert not (kind == "user" and next_kind == "user"), f"{sender}: two messages handled at once"
            assert next_at >= at, f"{sender}: {next_what!r} is older than {what!r}: handled at the same time"

    critical = [line for line in stack.output if line.split("|")[0].strip().startswith("balancer") and "[crit]" in line]
    assert critical == []  # e.g. a request body nginx could not buffer
    served = production.served_by()
    for port in production.rasa_ports:
        assert served[f"rasa:{port}"] > 100, served  # both Rasa servers took their share
    for port in production.action_ports:
        assert served[f"actions:{port}"] >= 10, served

    # and the relationship history (RabbitMQ -> ingestion -> CRM database) holds each transcript as stored
    engine = create_engine(production.crm_url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        history = history_of(engine, senders)
        if all(len([w for w, _ in history.get(s, []) if w == "customer"]) == len(sent[s]) for s in senders):
            break
        time.sleep(1)
    engine.dispose()
    for sender in senders:
        stored = [
            ("customer" if kind == "user" else "bot", t)
            for kind, t in production.events(sender)
            if kind in ("user", "bot")
        ]
        assert history.get(sender) == stored, f"history of {sender} differs from its tracker"


def command_lines() -> dict[int, bytes]:
    """Every process's command line on this machine (/proc/<pid>/cmdline), as any local user can read them."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
            except OSError:  # ended meanwhile
                pass
    return found


def test_rasas_http_api_needs_its_token_and_no_command_line_shows_it(production: Production):
    """Security finding 10: Rasa's HTTP API takes a short-lived JWT signed with RASA_API_TOKEN in the Authorization
    header (the console's way), and refuses the key in the query string, a JWT signed with another key and an
    unsigned one; the key is on no process's command line."""
    key = production.env["RASA_API_TOKEN"]
    servers = [production.server_pid(b"bot.run_rasa\x00run", port) for port in production.rasa_ports]
    lines = command_lines()
    assert all(pid in lines for pid in servers)  # the Rasa servers' own are among those read
    assert [pid for pid, line in lines.items() if key.encode() in line] == []
    console = RasaConversations(production.stack.rasa_url, key)
    for port in production.rasa_ports:
        url = f"http://127.0.0.1:{port}/conversations/nobody/tracker"
        for way, credentials in rasa_api_refusals(key).items():
            assert requests.get(url, timeout=10, **credentials).status_code == 401, (port, way)
        assert requests.get(url, headers={"Authorization": console.authorization()}, timeout=10).status_code == 200


def test_rest_needs_an_integrations_token_and_names_nobody_for_one_that_does_not_vouch(production: Production):
    """Production runs the same REST channel: without an integration's token nothing gets in, and an integration
    that does not vouch for its users (REST_CLIENTS without ':vouches') cannot name a seeded customer's linked
    sender id, not even by claiming it in the metadata. Every server listens on the loopback address."""
    url = f"{production.stack.rasa_url}/webhooks/rest/webhook"
    body = {"sender": "demo-anna", "message": "what do you know about me?"}
    assert requests.post(url, json=body, timeout=30).status_code == 401
    assert requests.post(url, json=body, headers={"Authorization": "Bearer " + "0" * 64}, timeout=30).status_code == 401
    claim = {"sender_proven": True, "rest_client": "dev", "identity": {"customer_id": "cus_demo_anna", "source": "x"}}
    response = requests.post(
        url, json={**body, "message": "hi", "metadata": claim}, headers=production.stack.rest_headers(), timeout=120
    )
    assert response.status_code == 200 and "Anna" not in response.text
    status, texts = say(production.stack, "demo-anna", "what do you know about me?")
    assert status == 200 and "anna.berg@example.com" not in " ".join(texts) and "Berg" not in " ".join(texts)
    front = [int(production.stack.rasa_url.rsplit(":", 1)[1]), production.stack.action_port]
    for port in [*production.rasa_ports, *production.action_ports, *front]:
        assert listening_addresses(port) == {"127.0.0.1"}, port


def test_an_agents_replies_reach_the_web_chat_whichever_rasa_server_sends_them(production: Production):
    """The widget's socket lives on one Rasa server; the console's replies go through Rasa's HTTP API, which
    nginx spreads over both. python-socketio's Redis manager must carry them to the socket."""
    stack = production.stack
    chat = WebChatClient(stack.rasa_url, transports=["polling", "websocket"])  # as the widget starts

    def received() -> list[str]:
        return [u.get("text", "") for u in chat.uttered]

    try:
        session = uuid.uuid4().hex
        assert chat.session(session) == session
        greeting = chat.say(session, "hi")
        assert greeting and greeting[0].get("text", "").startswith("Hi, I'm Juno"), greeting

        before = production.served_by()
        rasa = RasaConversations(stack.rasa_url, production.env["RASA_API_TOKEN"])
        replies = [f"This is Sam from the team, message {n}" for n in range(8)]
        for reply in replies:
            rasa.send_as_agent(stack.web_sender(session), "socketio", reply, "Sam", 1)
        wait_for(lambda: set(replies) <= set(received()), timeout=30, step=0.2)
    finally:
        chat.close()
    assert [t for t in received() if t in replies] == replies  # every one, once, in order
    sent_through = production.served_by() - before
    assert all(sent_through[f"rasa:{port}"] >= 2 for port in production.rasa_ports), sent_through


def test_one_rasa_server_killed_under_load_the_other_carries_on(production: Production):
    stack = production.stack
    stop = threading.Event()
    results: list[tuple[float, int]] = []
    sent: dict[str, list[str]] = {}

    def customer(n: int) -> None:
        sender = f"load-{n:02d}-{uuid.uuid4().hex[:6]}"
        sent[sender] = []
        turn = 0
        while not stop.is_set():
            message = ["hi", "what are your opening hours", "do you deliver abroad", "thanks"][turn % 4]
            status, _ = say(stack, sender, message)
            results.append((time.monotonic(), status))
            sent[sender].append(message)
            turn += 1

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    time.sleep(8)
    killed_at = time.monotonic()
    victim = production.rasa_ports[0]
    shell = production.kill_and_hold("rasa", victim)
    try:
        time.sleep(15)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=150)
        production.release(shell, f"http://127.0.0.1:{victim}/")

    after = [status for at, status in results if at > killed_at]
    assert len(after) > 40, "the surviving server answered too little"
    assert Counter(status for _, status in results) == Counter({200: len(results)})  # nginx retried the lost ones
    for sender, messages in sent.items():
        users = [t for kind, t in production.events(sender) if kind == "user"]
        assert len(users) >= len(messages), f"{sender}: a message was lost"


def test_rasa_servers_restarted_the_conversation_continues_from_the_tracker_store(production: Production):
    stack = production.stack
    sender = f"restart-{uuid.uuid4().hex[:6]}"
    assert say(stack, sender, "hello")[1][0].startswith("Hi, I'm Juno")
    assert "email address" in say(stack, sender, "I need to change my phone number")[1][0]
    assert "order you've placed" in say(stack, sender, "omar.haddad@example.com")[1][0]

    shells = [production.kill_and_hold("rasa", port) for port in production.rasa_ports]
    try:
        status, texts = say(stack, sender, "JH100002")
        assert status == 502  # nobody there: nginx says so, and nothing was taken in
    finally:
        for shell, port in zip(shells, production.rasa_ports, strict=True):
            production.release(shell, f"http://127.0.0.1:{port}/")

    status, texts = say(stack, sender, "JH100002")  # the form goes on where it was
    assert status == 200 and "new phone number" in texts[0], texts
    users = [t for kind, t in production.events(sender) if kind == "user"]
    assert users == ["hello", "I need to change my phone number", "omar.haddad@example.com", "JH100002"]


def test_action_servers_killed_mid_conversation_the_customer_is_answered_and_it_continues(production: Production):
    stack = production.stack
    sender = f"actions-down-{uuid.uuid4().hex[:6]}"
    assert say(stack, sender, "hello")[1][0].startswith("Hi, I'm Juno")
    assert "email address" in say(stack, sender, "I need to change my phone number")[1][0]

    shells = [production.kill_and_hold("actions", port) for port in production.action_ports]
    try:
        status, texts = say(stack, sender, "omar.haddad@example.com")
        assert status == 200 and texts[0].startswith(APOLOGY), (texts, production.events(sender))
        assert len(texts) <= 2 and all("email address" in t for t in texts[1:]), texts  # asked again, nothing else
        assert say(stack, sender, "when are you open?")[1]  # what needs no action server still answers
    finally:
        for shell, port in zip(shells, production.action_ports, strict=True):
            production.release(shell, f"http://127.0.0.1:{port}/health")

    assert "order you've placed" in say(stack, sender, "omar.haddad@example.com")[1][0]
    status, texts = say(stack, sender, "JH100002")
    assert status == 200 and "new phone number" in texts[0], texts


def test_crm_database_down_no_server_errors_and_history_written_when_it_is_back(production: Production):
    stack = production.stack
    sender = f"crm-down-{uuid.uuid4().hex[:6]}"
    production.crm_relay.cut()
    try:
        seen: list[tuple[str, str]] = []
        for message in ["hi", "where is my order?", "anna.berg@example.com", "JH100001", "what are your opening hours"]:
            status, texts = say(stack, sender, message)
            assert status == 200, (message, status, texts)
            seen.append(("customer", message))
            seen.extend(("bot", t) for t in texts)
        assert any(t.startswith(APOLOGY) for who, t in seen if who == "bot"), seen
        time.sleep(5)  # ingestion keeps failing meanwhile: nothing may be dropped
    finally:
        production.crm_relay.restore()

    engine = create_engine(production.crm_url)
    deadline = time.monotonic() + 120
    history: dict[str, list[tuple[str, str]]] = {}
    while time.monotonic() < deadline and history.get(sender) != seen:
        history = history_of(engine, [sender])
        time.sleep(1)
    engine.dispose()
    assert history.get(sender) == seen, production.events(sender)  # written late, complete and in order
    status, texts = say(stack, sender, "JH100001")
    assert status == 200 and not texts[0].startswith(APOLOGY), texts
