"""Hearth's command line: `python -m hearth COMMAND`.

The launcher: run (the default) migrates, seeds an empty CRM, trains if needed and starts everything; train
trains unless a model for the current data and config exists; env prints the environment the processes get;
model-path prints the model file for the current data and config; wait-ready waits until every process answers.
The CRM (on CRM_BACKEND=sql): migrate, seed, status, values, agents, analytics, ingest, review, knowledge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hearth.environment import environment
from hearth.processes import run, wait_until_ready
from hearth.train import model_path, train

LAUNCHER_COMMANDS = ("train", "run", "model-path", "wait-ready", "env")


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(
        prog="python -m hearth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = main_parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="migrate, seed if empty, train if needed, start everything (the default)")
    sub.add_parser("train", help="train unless a model for the current data and config exists")
    sub.add_parser("env", help="print the environment the processes get")
    sub.add_parser("model-path", help="print the model file for the current data and config")
    sub.add_parser("wait-ready", help="wait until every process answers, then say where to talk to the bot")
    crm_commands(sub)
    agents_commands(sub.add_parser("agents", help="the console's agent and admin accounts"))
    return main_parser


def crm_commands(sub: argparse._SubParsersAction) -> None:
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
    knowledge_parser = sub.add_parser("knowledge", help="the help centre's articles: seed, import, export, status")
    knowledge_sub = knowledge_parser.add_subparsers(dest="knowledge_command", required=True)
    knowledge_sub.add_parser("seed", help="import data/knowledge/ if the help centre has no articles yet")
    import_parser = knowledge_sub.add_parser("import", help="create or update articles from Markdown files")
    import_parser.add_argument("directory", nargs="?", default="data/knowledge")
    export_parser = knowledge_sub.add_parser("export", help="write every article as a Markdown file")
    export_parser.add_argument("directory")
    knowledge_sub.add_parser("status", help="articles by status, passages, the revision and its fingerprint")
    report_parser = sub.add_parser("analytics", help="conversation analytics for a date range, as text, CSV and PNG")
    report_parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 29 days before --to)")
    report_parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD (default: today)")
    report_parser.add_argument("--channel")
    report_parser.add_argument("--tier", help="vip, high, standard, low, unrated or anonymous")
    report_parser.add_argument("--csv", type=Path, help="write the figures per day to this CSV file")
    report_parser.add_argument("--charts", type=Path, help="write PNG charts into this folder")


def agents_commands(agents_parser: argparse.ArgumentParser) -> None:
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["review"]:  # the review queue parses its own arguments
        from hearth.crm import review

        return review(argv[1:])
    args = parser().parse_args(argv)
    command = args.command or "run"
    if command in LAUNCHER_COMMANDS:
        return launch(command)
    from hearth.crm import run_command

    return run_command(args)


def launch(command: str) -> int:
    """The launcher's commands, each with the environment the processes get (made first, as `env` shows it)."""
    env = environment()
    if command == "train":
        train(env)
    elif command == "model-path":
        print(model_path())
    elif command == "run":
        run(env)
    elif command == "wait-ready":
        wait_until_ready(env)
    else:  # env
        for key in sorted(k for k in env if k.isupper() and not k.startswith(("LS_", "TERM"))):
            print(f"{key}={env[key]}")
    return 0
