"""The CRM's commands (on CRM_BACKEND=sql): migrate, seed, status, values, analytics, ingest, agents, review,
knowledge.

The CRM code is imported here, not by the launcher's modules: the Rasa image trains with hearth/ and no CRM.
"""

from __future__ import annotations

import argparse

from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.sql.db import upgrade
from hearth.container import container


def review(argv: list[str]) -> int:
    """`review ...`: the NLU review queue, which parses its own arguments."""
    from nlu_review.queue import main as review_queue

    return review_queue(container().sessions, argv)


def run_command(args: argparse.Namespace) -> int:
    box = container()
    settings = box.settings
    if args.command == "knowledge":  # the help centre is ours whatever the CRM: kept in our own database
        from hearth.knowledge import run_knowledge

        if settings.backend != "sql":  # nothing else migrates our database then (`migrate` is the CRM's, on sql)
            upgrade(settings.database_url)
        return run_knowledge(args, box.knowledge)
    if settings.backend != "sql":
        print("CRM_BACKEND is not 'sql': the external CRM manages its own schema and data.")
        return 0
    if args.command == "ingest":
        from worker.runner import main as ingest

        return ingest(box, once=args.once, source_kind=args.source, batch_size=args.batch)
    if args.command in ("analytics", "values"):
        from analytics.cli import run as run_analytics

        return run_analytics(args, box.sessions)
    if args.command == "migrate":
        upgrade(settings.database_url)
        print(f"CRM schema up to date ({_safe(settings.database_url)})")
        return 0
    sessions = box.sessions
    if args.command == "agents":
        from hearth.agents import run_agents

        return run_agents(args, sessions, settings, box.audit)
    if args.command == "seed":
        return seed(sessions, args.customers, settings.website_demo_password)
    return status(sessions)


def seed(sessions: sessionmaker[Session], customers: int, website_password: str) -> int:
    from hearth.seed import DEMO_CUSTOMERS, is_empty
    from hearth.seed import seed as seed_demo

    if not is_empty(sessions):
        print("CRM already has customers: not seeding")
        return 0
    counts = seed_demo(sessions, customers=customers, website_password=website_password)
    print("seeded demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    for demo in DEMO_CUSTOMERS:
        print(
            f"  demo customer {demo.first_name} {demo.last_name}: {demo.email}, order {demo.order_number}, "
            f"recognised on channel '{demo.channel}' as sender '{demo.sender_id}'"
        )
    return 0


def status(sessions: sessionmaker[Session]) -> int:
    """Row counts of every table."""
    from sqlalchemy import func, select

    from hearth.schema import metadata

    with sessions() as s:
        for table in metadata.sorted_tables:
            print(f"{table.name:20s} {s.scalar(select(func.count()).select_from(table))}")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
