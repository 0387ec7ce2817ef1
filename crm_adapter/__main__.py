"""Command line for the CRM store: `python -m crm_adapter migrate|seed|status`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crm_adapter.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_adapter", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the CRM database schema to the latest migration")
    seed_parser = sub.add_parser("seed", help="fill an empty CRM with demo data (does nothing if it has customers)")
    seed_parser.add_argument("--customers", type=int, default=300)
    sub.add_parser("status", help="print the database URL and row counts")
    ingest_parser = sub.add_parser("ingest", help="project Rasa's event log into the relationship history")
    ingest_parser.add_argument("--once", action="store_true", help="catch up, then exit (default: follow the log)")
    ingest_parser.add_argument("--source", choices=["tracker", "rabbitmq"], help="default: HISTORY_SOURCE")
    ingest_parser.add_argument("--batch", type=int, default=500)
    sub.add_parser("review", help="the review queue of misunderstood messages (see: review --help)", add_help=False)
    sub.add_parser("values", help="recompute every customer's value score and tier")
    report_parser = sub.add_parser("analytics", help="conversation analytics for a date range, as text, CSV and PNG")
    report_parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 29 days before --to)")
    report_parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today)")
    report_parser.add_argument("--channel")
    report_parser.add_argument("--tier", help="vip, high, standard, low, unrated or anonymous")
    report_parser.add_argument("--csv", type=Path, help="write the figures per day to this CSV file")
    report_parser.add_argument("--charts", type=Path, help="write PNG charts into this folder")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["review"]:
        settings = Settings.from_env()
        from crm_adapter.history.review import main as review
        from crm_adapter.sql.db import make_engine, make_session_factory

        return review(make_session_factory(make_engine(settings.database_url)), argv[1:])
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if settings.backend != "sql":
        print("CRM_BACKEND is not 'sql': the external CRM manages its own schema and data.")
        return 0

    from crm_adapter.sql.db import make_engine, make_session_factory, upgrade

    if args.command == "ingest":
        from crm_adapter.history.ingest import main as ingest

        return ingest(settings, once=args.once, source_kind=args.source, batch_size=args.batch)
    if args.command in ("analytics", "values"):
        from crm_adapter.analytics_cli import run as run_analytics

        return run_analytics(args, make_session_factory(make_engine(settings.database_url)))
    if args.command == "migrate":
        upgrade(settings.database_url)
        print(f"CRM schema up to date ({_safe(settings.database_url)})")
        return 0
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    if args.command == "seed":
        from crm_adapter.seed import DEMO_CUSTOMERS, is_empty, seed

        if not is_empty(sessions):
            print("CRM already has customers: not seeding")
            return 0
        counts = seed(sessions, customers=args.customers)
        print("seeded demo data: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        for demo in DEMO_CUSTOMERS:
            print(
                f"  demo customer {demo.first_name} {demo.last_name}: {demo.email}, order {demo.order_number}, "
                f"recognised on channel '{demo.channel}' as sender '{demo.sender_id}'"
            )
        return 0
    from sqlalchemy import func, select

    from crm_adapter.sql.models import Base

    with sessions() as s:
        for table in Base.metadata.sorted_tables:
            print(f"{table.name:20s} {s.scalar(select(func.count()).select_from(table))}")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
