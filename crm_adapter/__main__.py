"""Command line for the CRM store: `python -m crm_adapter migrate|seed|status|agents ...`."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from crm_adapter.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


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
    agents_parser = sub.add_parser("agents", help="the console's agent and admin accounts")
    agents_sub = agents_parser.add_subparsers(dest="agents_command", required=True)
    add_parser = agents_sub.add_parser("add", help="add an account (the password is prompted for, twice)")
    add_parser.add_argument("username")
    add_parser.add_argument("--name", required=True, help="the display name, e.g. 'Sam Taylor'")
    add_parser.add_argument("--role", choices=["agent", "admin"], default="agent")
    add_parser.add_argument("--password-env", metavar="VARIABLE", help="read the password from this variable")
    agents_sub.add_parser("list", help="every account, with its role and whether it is active")
    deactivate_parser = agents_sub.add_parser("deactivate", help="stop an account signing in (ends its sessions)")
    deactivate_parser.add_argument("username")
    agents_sub.add_parser(
        "ensure-dev",
        help="development: when there are no accounts yet, add 'admin' and 'agent' with the passwords from "
        "CONSOLE_ADMIN_PASSWORD and CONSOLE_AGENT_PASSWORD, or random ones kept in the data folder",
    )
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["review"]:
        settings = Settings.from_env()
        from crm_adapter.sql.db import make_engine, make_session_factory
        from nlu_review.queue import main as review

        return review(make_session_factory(make_engine(settings.database_url)), argv[1:])
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if settings.backend != "sql":
        print("CRM_BACKEND is not 'sql': the external CRM manages its own schema and data.")
        return 0

    from crm_adapter.sql.db import make_engine, make_session_factory, upgrade

    if args.command == "ingest":
        from worker.runner import main as ingest

        return ingest(settings, once=args.once, source_kind=args.source, batch_size=args.batch)
    if args.command in ("analytics", "values"):
        from analytics.cli import run as run_analytics

        return run_analytics(args, make_session_factory(make_engine(settings.database_url)))
    if args.command == "migrate":
        upgrade(settings.database_url)
        print(f"CRM schema up to date ({_safe(settings.database_url)})")
        return 0
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    if args.command == "agents":
        return _agents(args, sessions, settings)
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


# Development accounts: (username, display name, role, password variable, file in the data folder)
DEV_AGENTS = (
    ("admin", "Admin", "admin", "CONSOLE_ADMIN_PASSWORD", "console_admin_password"),
    ("agent", "Sam Taylor", "agent", "CONSOLE_AGENT_PASSWORD", "console_agent_password"),
)


def development_password(settings: Settings, variable: str, filename: str) -> str:
    """The password in `variable`, or a random one kept in the (git-ignored) data folder, made on first use."""
    if os.environ.get(variable):
        return os.environ[variable]
    path = settings.data_dir / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def _agents(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings) -> int:
    from crm_adapter.domain import InvalidInput, NotFound
    from handoff.agents import SqlAgentService, check_password_rules

    agents = SqlAgentService(sessions)
    try:
        if args.agents_command == "list":
            for a in agents.list_agents():
                print(f"{a.username:20s} {a.role:6s} {'active' if a.active else 'inactive':9s} {a.display_name}")
            return 0
        if args.agents_command == "deactivate":
            agents.deactivate(args.username)
            print(f"{args.username} can no longer sign in; their sessions have ended")
            return 0
        if args.agents_command == "add":
            if args.password_env:
                password = os.environ.get(args.password_env, "")
                if not password:
                    print(f"{args.password_env} is not set", file=sys.stderr)
                    return 1
            else:
                try:
                    password = getpass.getpass(f"Password for {args.username}: ")
                    again = getpass.getpass("The same again: ")
                except (EOFError, KeyboardInterrupt):
                    print("\nno password given: nothing added", file=sys.stderr)
                    return 1
                if again != password:
                    print("The passwords differ: nothing added", file=sys.stderr)
                    return 1
            agent = agents.create_agent(args.username, args.name, password, args.role)
            print(f"added {agent.username} ({agent.display_name}, {agent.role})")
            return 0
        # ensure-dev
        if agents.list_agents():
            print("console accounts exist: not adding the development ones")
            return 0
        passwords = [development_password(settings, variable, filename) for *_, variable, filename in DEV_AGENTS]
        for password, (*_, variable, _filename) in zip(passwords, DEV_AGENTS, strict=True):
            try:
                check_password_rules(password)
            except InvalidInput as exc:
                raise InvalidInput("password", f"{variable}: {exc}") from None
        for password, (username, name, role, variable, filename) in zip(passwords, DEV_AGENTS, strict=True):
            agents.create_agent(username, name, password, role)
            where = variable if os.environ.get(variable) else settings.data_dir / filename
            print(f"added console account {username} ({role}); its password: {where}")
        return 0
    except NotFound:
        print(f"no account named {args.username!r}", file=sys.stderr)
        return 1
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
