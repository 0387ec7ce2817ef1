"""The agent workspace's live updates: how long from a customer's message to its appearance in the agent's open
conversation, with 20 live conversations handed to people at once.

    .venvs/app/bin/python scripts/bench_workspace.py [--conversations 20] [--messages 10] [--out FILE]

Starts Hearth with its run command (`python -m hearth run`: Rasa server, action server, history ingestion, console)
on a fresh data folder, with round-the-clock handoffs and auto-assignment. Seven agents sign in to the console
(capacity 3 each); 20 REST customers ask for a person, and auto-assignment shares them out. For each conversation
one agent's browser stream is opened (`GET /handoffs/{id}/events`, the server-sent events the conversation's page
listens to). Then every customer sends `--messages` messages, a random 0.5-2 s apart, all 20 at once; a message's
time is from just before the customer's POST to the REST webhook to the moment its line arrives on the agent's
stream (both clocks are this process's), split into the REST call (Rasa understands and stores the message) and
what follows it (the stream's next reading, at most 0.25 s later). Results: JSON (docs/measurements/workspace.json),
cited by docs/measurements.md and the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_speed import APP_PYTHON, free_port, launch, stop_process  # noqa: E402

from console.deps import ConsoleServices  # noqa: E402

AGENTS, CAPACITY = 7, 3
PASSWORD = "a-benchmark-agent-password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def sign_in(console: str, username: str) -> requests.Session:
    http = requests.Session()
    form = http.get(f"{console}/login", timeout=30)
    token = CSRF.search(form.text)
    assert token is not None, "the sign-in form carries no token"
    response = http.post(
        f"{console}/login", data={"username": username, "password": PASSWORD, "csrf": token.group(1)}, timeout=30
    )
    assert response.ok and response.url.rstrip("/") == console, f"{username} could not sign in"
    return http


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


class Stream(threading.Thread):
    """An agent's stream of one conversation; records when each benchmark line arrives."""

    def __init__(self, http: requests.Session, url: str) -> None:
        super().__init__(daemon=True)
        self.http, self.url = http, url
        self.arrived: dict[str, float] = {}
        self.open = threading.Event()

    def run(self) -> None:
        with self.http.get(self.url, stream=True, timeout=(10, 600)) as response:
            self.open.set()
            for raw in response.iter_lines(decode_unicode=True):
                if raw and raw.startswith("data:"):
                    for token in re.findall(r"bench-\d+-\d+", raw):
                        self.arrived.setdefault(token, time.perf_counter())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10, help="per conversation")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "workspace.json")
    args = parser.parse_args()

    subprocess.run([str(APP_PYTHON), "-m", "hearth", "train"], cwd=ROOT, check=True)
    data = Path(tempfile.mkdtemp(prefix="hearth-bench-workspace-"))
    rasa_port, action_port, console_port, website_port = free_port(), free_port(), free_port(), free_port()
    token = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "TRACKER_", "ACTION_", "RASA_PORT"))}
    env.update(
        HEARTH_DATA_DIR=str(data),
        RASA_PORT=str(rasa_port),
        ACTION_PORT=str(action_port),
        CONSOLE_PORT=str(console_port),
        WEBSITE_PORT=str(website_port),
        REST_CLIENTS=f"bench:{token}:vouches",
        HANDOFF_HOURS="always",
        HANDOFF_AUTO_ASSIGN="on",
    )
    rasa, console = f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{console_port}"
    headers = {"Authorization": f"Bearer {token}"}
    print("==> starting Hearth", flush=True)
    process, ready = launch([str(APP_PYTHON), "-m", "hearth", "run"], ROOT, env, rasa, headers)
    try:
        for n in range(AGENTS):
            subprocess.run(
                [str(APP_PYTHON), "-m", "hearth", "agents", "add", f"bench{n}", "--name", f"Agent {n}",
                 "--role", "agent", "--password-env", "BENCH_AGENT_PASSWORD"],  # fmt: skip
                cwd=ROOT, env={**env, "BENCH_AGENT_PASSWORD": PASSWORD}, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{console}/health", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the console did not answer")
            time.sleep(0.2)
        agents = [sign_in(console, f"bench{n}") for n in range(AGENTS)]

        senders = [f"bench-customer-{n}" for n in range(args.conversations)]
        with requests.Session() as http:
            for sender in senders:
                http.post(f"{rasa}/webhooks/rest/webhook", json={"sender": sender, "message": "hi"},
                          headers=headers, timeout=60)  # fmt: skip
                replies = http.post(f"{rasa}/webhooks/rest/webhook",
                                    json={"sender": sender, "message": "I want to talk to a person"},
                                    headers=headers, timeout=60).json()  # fmt: skip
                assert any("will be with you" in r.get("text", "") or "queue" in r.get("text", "") for r in replies), (
                    sender, replies)  # fmt: skip
        inbox = agents[0].get(f"{console}/handoffs?view=open", timeout=30).text
        handoff_ids = sorted({int(h) for h in re.findall(r'data-handoff="(\d+)"', inbox)})
        assert len(handoff_ids) == args.conversations, f"{len(handoff_ids)} handoffs open, not {args.conversations}"
        assigned = len(re.findall(r'<tr data-handoff="\d+"><td>', inbox))
        streams = []
        for i, handoff_id in enumerate(handoff_ids):
            stream = Stream(agents[i % AGENTS], f"{console}/handoffs/{handoff_id}/events")
            stream.start()
            streams.append(stream)
        for stream in streams:
            stream.open.wait(30)
        time.sleep(1.0)

        # which stream follows which customer: a first message from each, matched by its token
        sent: dict[str, float] = {}
        answered: dict[str, float] = {}  # when the REST call returned: Rasa had stored the message by then
        rng = random.Random(20261207)

        def customer(index: int) -> None:
            with requests.Session() as http:
                for m in range(args.messages):
                    tag = f"bench-{index}-{m}"
                    sent[tag] = time.perf_counter()
                    said = {"sender": senders[index], "message": f"{tag} hello?"}
                    http.post(f"{rasa}/webhooks/rest/webhook", json=said, headers=headers, timeout=60)
                    answered[tag] = time.perf_counter()
                    time.sleep(rng.uniform(0.5, 2.0))

        print(f"==> {args.conversations} customers send {args.messages} messages each", flush=True)
        with ThreadPoolExecutor(max_workers=args.conversations) as pool:
            list(pool.map(customer, range(args.conversations)))
        time.sleep(3.0)
        arrived: dict[str, float] = {}
        for stream in streams:
            arrived.update(stream.arrived)
        latencies = [(arrived[tag] - at) * 1000 for tag, at in sent.items() if tag in arrived]
        rasa_ms = [(answered[tag] - at) * 1000 for tag, at in sent.items() if tag in answered]
        after_ms = [
            max(0.0, (arrived[tag] - answered[tag]) * 1000) for tag in sent if tag in arrived and tag in answered
        ]
        missing = [tag for tag in sent if tag not in arrived]
    finally:
        stop_process(process)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "commit": commit.stdout.strip() + ("+changes" if dirty.stdout.strip() else ""),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "setup": {
            "conversations": args.conversations,
            "messages_each": args.messages,
            "agents": AGENTS,
            "capacity": CAPACITY,
            "assigned_by_auto_assignment": assigned,
            "transcript_feed_seconds": ConsoleServices.transcript_interval,
            "ready_seconds": round(ready, 1),
        },
        "message_to_agent_ms": {
            "count": len(latencies),
            "missing": len(missing),
            "p50": round(statistics.median(latencies), 1) if latencies else None,
            "p95": round(percentile(latencies, 0.95), 1) if latencies else None,
            "max": round(max(latencies), 1) if latencies else None,
            "mean": round(statistics.fmean(latencies), 1) if latencies else None,
        },
        # the two parts: the customer's REST call (Rasa understands and stores the message), then the stream
        "rasa_rest_call_ms": {"p50": round(statistics.median(rasa_ms), 1), "p95": round(percentile(rasa_ms, 0.95), 1)},
        "stream_after_the_call_ms": {
            "p50": round(statistics.median(after_ms), 1),
            "p95": round(percentile(after_ms, 0.95), 1),
        },
    }
    if args.out.exists():  # the earlier runs stay in the file, newest first
        before = json.loads(args.out.read_text())
        result["earlier"] = [{k: v for k, v in before.items() if k != "earlier"}, *before.get("earlier", [])]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["message_to_agent_ms"]), f"-> {args.out}")
    return 0 if not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())
