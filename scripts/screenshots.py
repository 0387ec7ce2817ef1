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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "a-screenshot-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    from hearth.seed import seed
    from relationship.value_store import refresh_values

    box = container()
    upgrade(box.settings.database_url)
    seed(box.sessions, customers=60)
    refresh_values(box.sessions)
    box.agents.create_agent("agent", "Sam Taylor", PASSWORD, "agent")
    box.agents.create_agent("admin", "Ada Admin", PASSWORD, "admin")
    with box.sessions() as s:
        people = list(s.scalars(select(CustomerRow).order_by(CustomerRow.value_score.desc()).limit(4)))
        anna = s.scalars(select(CustomerRow.id).where(CustomerRow.email == "anna.berg@example.com")).one()
    for n, person in enumerate(people):
        profile = box.relationship.profile(person.id)
        packet = build_packet(reason=("asked", "fallbacks", "negative_sentiment", "asked")[n], verified=True,
                              profile=profile, orders=box.crm.list_orders(person.id), tickets=[], transcript=[],
                              intents=["order_status", "request_human"], slots={}, sentiment_now=None)  # fmt: skip
        box.handoffs.request(NewHandoff(f"web-demo-{n}", "socketio", person.id, "asked", person.value_tier, packet))
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
            for username, pages in (
                (
                    "agent",
                    [("inbox", "/handoffs"), ("customers", "/customers?q=berg"), ("customer", f"/customers/{anna}")],
                ),
                ("admin", [("audit", "/audit")]),
            ):
                page = browser.new_context(viewport={"width": 1366, "height": 860}).new_page()
                page.goto(url + "/login")
                page.fill("input[name=username]", username)
                page.fill("input[name=password]", PASSWORD)
                page.locator("#login button[type=submit]").click()
                page.wait_for_url(url + "/")
                for name, path in pages:
                    page.goto(url + path)
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
