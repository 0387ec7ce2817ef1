"""`python -m hearth agents add|list|deactivate|ensure-dev`: the console's agent and admin accounts."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys

from sqlalchemy.orm import Session, sessionmaker

from audit.log import Actor, AuditLog
from crm_adapter.domain import InvalidInput, NotFound
from handoff.agents import SqlAgentService, check_password_rules
from hearth.settings import Settings

# Development accounts: (username, display name, role, password variable, file in the data folder)
DEV_AGENTS = (
    ("admin", "Admin", "admin", "CONSOLE_ADMIN_PASSWORD", "console_admin_password"),
    ("agent", "Sam Taylor", "agent", "CONSOLE_AGENT_PASSWORD", "console_agent_password"),
)


def _given(settings: Settings, variable: str) -> str | None:
    return {
        "CONSOLE_ADMIN_PASSWORD": settings.console_admin_password,
        "CONSOLE_AGENT_PASSWORD": settings.console_agent_password,
    }[variable]


def development_password(settings: Settings, variable: str, filename: str) -> str:
    """The password in `variable`, or a random one kept in the (git-ignored) data folder, made on first use."""
    if given := _given(settings, variable):
        return given
    path = settings.data_dir / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18))
        path.chmod(0o600)
    return path.read_text().strip()


def run_agents(args: argparse.Namespace, sessions: sessionmaker[Session], settings: Settings, audit: AuditLog) -> int:
    """Every change is recorded in the audit log, done by "command line" from "local"."""
    agents = SqlAgentService(sessions)
    try:
        if args.agents_command == "list":
            for a in agents.list_agents():
                print(f"{a.username:20s} {a.role:6s} {'active' if a.active else 'inactive':9s} {a.display_name}")
            return 0
        if args.agents_command == "deactivate":
            gone = agents.deactivate(args.username)
            audit.record(Actor.command_line(), "agent.deactivated", "agent", gone.username, detail=f"role {gone.role}")
            print(f"{args.username} can no longer sign in; their sessions have ended")
            return 0
        if args.agents_command == "add":
            return add(args, agents, audit)
        return ensure_dev(agents, settings, audit)
    except NotFound:
        print(f"no account named {args.username!r}", file=sys.stderr)
        return 1
    except InvalidInput as exc:
        print(exc, file=sys.stderr)
        return 1


def add(args: argparse.Namespace, agents: SqlAgentService, audit: AuditLog) -> int:
    """Add an account, its password from --password-env or prompted for twice."""
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
    audit.record(Actor.command_line(), "agent.added", "agent", agent.username, detail=f"role {agent.role}")
    print(f"added {agent.username} ({agent.display_name}, {agent.role})")
    return 0


def ensure_dev(agents: SqlAgentService, settings: Settings, audit: AuditLog) -> int:
    """Development: when there are no accounts yet, add 'admin' and 'agent' (both or neither)."""
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
        audit.record(Actor.command_line(), "agent.added", "agent", username, detail=f"role {role} (development)")
        where = variable if _given(settings, variable) else settings.data_dir / filename
        print(f"added console account {username} ({role}); its password: {where}")
    return 0
