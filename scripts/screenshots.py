"""Screenshots of the agent console's main pages for docs/screenshots/ (the README's tour links them).

    .venvs/app/bin/python scripts/screenshots.py [--out docs/screenshots]

Builds the console as `make run` does (hearth/container.py) on a fresh SQLite database in a temporary folder,
seeded with the demo data, with a few conversations waiting for a person; signs in with Debian's Chromium through
Playwright and saves PNGs at laptop size (and the customer page at phone size too).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "a-screenshot-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_conversations(sessions: object, now: datetime) -> None:
    """Three conversations the bot is having now: one calm, one it does not understand, one going sour."""
    from history.rows import ConversationRow, MessageRow

    chats = [
        ("web-live-1", [("customer", "hi, where is my order JH100001?", "order_status", 0.0),
                        ("bot", "It's on its way with DPD and arrives on Thursday.", None, None)]),
        ("web-live-2", [("customer", "can I change the colour of my sofa order", "change_order", 0.0),
                        ("bot", "Which order would you like to change?", None, None),
                        ("customer", "the velvet one but in teal not green??", "nlu_fallback", 0.0),
                        ("bot", "Sorry, I didn't get that. Could you say it another way?", None, None)]),
        ("web-live-3", [("customer", "hello", "greet", 0.0), ("bot", "Hi! How can I help?", None, None),
                        ("customer", "my lamp arrived broken and this is the second time, really annoyed",
                         "complain", -0.62)]),
    ]  # fmt: skip
    with sessions.begin() as s:  # type: ignore[attr-defined]
        for n, (sender, lines) in enumerate(chats):
            start = now - timedelta(minutes=6 - n)
            said = sum(who == "customer" for who, *_ in lines)
            conv = ConversationRow(channel="socketio", sender_id=sender, started_at=start, last_event_at=now,
                                   message_count=len(lines), customer_message_count=said,
                                   intents={i: 1 for _, _, i, _ in lines if i})  # fmt: skip
            s.add(conv)
            s.flush()
            for i, (who, text, intent, mood) in enumerate(lines):
                s.add(MessageRow(conversation_id=conv.id, sender=who, text=text, intent=intent, sentiment=mood,
                                 created_at=start + timedelta(seconds=20 * i)))  # fmt: skip


def build(data: Path) -> tuple[object, str]:
    """The console app on a seeded database, and the demo customer Anna's id."""
    os.environ.update(
        {"HEARTH_DATA_DIR": str(data), "CRM_DATABASE_URL": f"sqlite:///{data / 'crm.db'}", "HEARTH_ENV": "development"}
    )
    from sqlalchemy import select

    from console.app import app_from_env
    from crm_adapter.sql.db import upgrade
    from crm_adapter.sql.models import CustomerRow
    from handoff.service import NewHandoff, build_packet
    from hearth.container import container
    from hearth.knowledge import SEED_DIRECTORY
    from hearth.seed import seed
    from history.sources import TRACKER_EVENTS
    from relationship.value_store import refresh_values
    from workspace.canned import CannedResponses

    box = container()
    upgrade(box.settings.database_url)
    seed(box.sessions, customers=60)
    refresh_values(box.sessions)
    sam = box.agents.create_agent("agent", "Sam Taylor", PASSWORD, "agent")
    box.agents.create_agent("kim", "Kim Lee", PASSWORD, "agent")
    box.agents.create_agent("admin", "Ada Admin", PASSWORD, "admin")
    box.knowledge.store.import_directory(SEED_DIRECTORY, by="seed")  # embeddings from the models/ cache when there
    canned = CannedResponses(box.sessions)
    canned.save(
        "on-its-way", "Order on its way", "Hi {first_name}, {agent_name} here. {order_number} is on its way.", "admin"
    )
    canned.save(
        "sorry-damaged", "Sorry, it arrived damaged", "I'm so sorry {first_name}: I've started a replacement.", "admin"
    )
    live_conversations(box.sessions, datetime.utcnow())
    TRACKER_EVENTS.metadata.create_all(box.tracker.engine)  # Rasa makes it on its first message; no Rasa here
    with box.sessions() as s:
        people = list(s.scalars(select(CustomerRow).order_by(CustomerRow.value_score.desc()).limit(4)))
        anna = s.scalars(select(CustomerRow.id).where(CustomerRow.email == "anna.berg@example.com")).one()
    for n, person in enumerate(people):
        profile = box.relationship.profile(person.id)
        reason = ("asked", "fallbacks", "negative_sentiment", "asked")[n]
        said = [{"who": "customer", "text": "my sofa delivery is late, when will it come?"}]
        packet = build_packet(reason=reason, verified=True,
                              profile=profile, orders=box.crm.list_orders(person.id), tickets=[], transcript=said,
                              intents=["order_status", "request_human"], slots={}, sentiment_now=None)  # fmt: skip
        made = box.handoffs.request(
            NewHandoff(f"web-demo-{n}", "socketio", person.id, reason, person.value_tier, packet)
        )
        if n < 2:
            box.handoffs.take(made.handoff.handoff_id, sam.agent_id)
    return app_from_env(), anna


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    import uvicorn
    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix="hearth-screens-"))
    try:
        app, anna = build(data)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off", ws="none"))  # type: ignore[arg-type]
        threading.Thread(target=server.run, daemon=True).start()
        url = f"http://127.0.0.1:{port}"
        while not server.started:
            time.sleep(0.05)
        args.out.mkdir(parents=True, exist_ok=True)
        chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "chromium"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            agent_pages = [
                ("inbox", "/handoffs?view=open"),
                ("conversation", "/handoffs/1"),
                ("live", "/live"),
                ("customers", "/customers?q=berg"),
                ("customer", f"/customers/{anna}"),
            ]
            for username, pages in (("agent", agent_pages), ("admin", [("team", "/team"), ("audit", "/audit")])):
                page = browser.new_context(viewport={"width": 1366, "height": 860}).new_page()
                page.goto(url + "/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", PASSWORD)
                page.locator("#login button[type=submit]").click()
                page.wait_for_url(url + "/")
                for name, path in pages:
                    page.goto(url + path)
                    if name == "conversation":
                        page.locator("#suggestions .suggestion, #no-suggestions").first.wait_for()
                        page.locator("#reply textarea").type("/")
                        page.locator("#canned-menu .canned-choice").first.wait_for()
                    if name == "live":
                        page.locator(".live-conversation").first.wait_for()
                    if name == "customer":
                        link = page.locator("a.open-conversation").first
                        if link.count():
                            link.click()
                            page.locator(".conversation-detail").first.wait_for()
                    page.screenshot(path=str(args.out / f"{name}.png"))
                    print(f"wrote {args.out / f'{name}.png'}")
            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
            phone.goto(url + "/login")
            phone.fill("input[name=username]", "agent")
            phone.fill("input[name=password]", PASSWORD)
            phone.locator("#login button[type=submit]").click()
            phone.wait_for_url(url + "/")
            phone.goto(f"{url}/customers/{anna}")
            phone.screenshot(path=str(args.out / "customer-phone.png"))
            print(f"wrote {args.out / 'customer-phone.png'}")
            browser.close()
        server.should_exit = True
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
