"""The containers' entrypoint: one process per container, configured from the environment like the run command.

    entrypoint.py rasa        the Rasa server (Rasa image)
    entrypoint.py actions     the action server (app image; so are the roles below)
    entrypoint.py history     history ingestion (run exactly one)
    entrypoint.py console     the agent console
    entrypoint.py website     the demo shop's website
    entrypoint.py crm-api     the CRM's JSON API
    entrypoint.py migrate     bring the CRM schema to the latest migration, then exit
    entrypoint.py healthcheck [ROLE]   exit 0 when this container's process answers (Docker HEALTHCHECK)
    entrypoint.py COMMAND ...          anything else runs as given, e.g. `python -m hearth agents add ...`

Before starting a role it checks the variables that role needs (docs/deployment.md lists them) and stops
with every problem named: a missing variable, a `CHANGE_ME` placeholder left from the Secret template, or
a SQLite URL (a file inside one container is neither shared nor kept). In a container nothing falls back
to the development secrets the run command makes on one machine: each replica would make its own.

The `rasa` role builds the endpoints and credentials files with the launcher, hearth/ (the same code as
`make run`: the RabbitMQ event broker when RABBITMQ_URL is set, each messaging channel whose variables are
set), adds the Redis lock store when REDIS_URL is set and those files have none yet, and runs the model
trained into the image at build time. Only the standard library is imported here, so either image's Python
runs it; the `history` health check imports the CRM code and so runs in the app image.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # /app in the images, the repository's root otherwise
RASA_PYTHON = ROOT / ".venvs" / "rasa" / "bin" / "python"  # the same layout as scripts/bootstrap.sh makes
APP_PYTHON = ROOT / ".venvs" / "app" / "bin" / "python"
CRM_API_PORT = "5090"  # the CRM API has no port variable: the containers use this one
ROLE_FILE = Path(tempfile.gettempdir()) / "hearth-role"  # which role this container runs, for `healthcheck`
HISTORY_STALE_SECONDS = 600  # ingestion that has not finished a step for this long is reported unhealthy

if str(ROOT) not in sys.path:  # run as a file, this folder is on the path, not the repository's root
    sys.path.insert(0, str(ROOT))

# What each role needs, checked in hearth/settings.py (the same rules as the run command's production mode)
from hearth.settings import ROLES, Settings  # noqa: E402
from hearth.settings import role_problems as problems  # noqa: E402

# ---- the Rasa server's endpoints ------------------------------------------------------------------------

REFERENCE = re.compile(r"\$\{([^}]+)\}")


def prepare_rasa(env: dict[str, str]) -> dict[str, str]:
    """The run command's environment and files for the Rasa server (with the event broker and the Redis lock
    store when RABBITMQ_URL and REDIS_URL are set); HEARTH_MODEL is the model trained into the image unless set."""
    from hearth.environment import environment
    from hearth.train import model_path

    env = environment(env)
    text = Path(env["HEARTH_ENDPOINTS"]).read_text()
    referenced = REFERENCE.findall(text + Path(env["HEARTH_CREDENTIALS"]).read_text())
    unset = sorted({name for name in referenced if name not in env})
    if unset:
        raise SystemExit(f"the Rasa server's endpoints or credentials name variables that are not set: {unset}")
    model = Path(env.get("HEARTH_MODEL") or model_path())
    if not model.is_file():
        raise SystemExit(f"no model at {model}: the image is built with one (deploy/docker/rasa.Dockerfile)")
    env["HEARTH_MODEL"] = str(model)
    return env


# ---- commands -----------------------------------------------------------------------------------------------


def uvicorn(app: str, port: str) -> list[str]:
    """As in the Procfile, but listening on every interface of the container."""
    return [str(APP_PYTHON), "-m", "uvicorn", app, "--factory", "--host", "0.0.0.0", "--port", port]


def command(role: str, env: Mapping[str, str]) -> list[str]:
    """The process `role` runs: the Procfile's command, without the shell and restart loop around it."""
    if role == "rasa":
        return [
            str(RASA_PYTHON),
            "-m",
            "bot.run_rasa",  # `rasa run`, with its HTTP API's JWT key from RASA_API_TOKEN, never on the command line
            "run",
            "--model",
            env["HEARTH_MODEL"],
            "--endpoints",
            env["HEARTH_ENDPOINTS"],
            "--credentials",
            env["HEARTH_CREDENTIALS"],
            "--port",
            env.get("RASA_PORT", "5005"),
            "--interface",
            "0.0.0.0",  # noqa: S104 - a container listens on its own network interface; CORS: WEB_CHAT_ORIGINS
            "--enable-api",
        ]
    if role == "actions":
        port = env.get("ACTION_PORT", "5055")
        return [str(APP_PYTHON), "-m", "actions.serve", "--actions", "actions", "--port", port]
    if role == "history":  # a crash ends the container and Kubernetes starts it again: no restart loop here
        return [str(APP_PYTHON), "-m", "hearth", "ingest", "--batch", env.get("HISTORY_BATCH", "500")]
    quiet = ["--ws", "none", "--log-level", "warning"]
    if role == "console":
        return uvicorn("console.app:app_from_env", env.get("CONSOLE_PORT", "5070")) + quiet
    if role == "website":
        return uvicorn("website.app:app_from_env", env.get("WEBSITE_PORT", "5080")) + quiet
    if role == "crm-api":
        return uvicorn("crm_api.app:app_from_env", CRM_API_PORT) + quiet
    if role == "migrate":
        return [str(APP_PYTHON), "-m", "hearth", "migrate"]
    raise ValueError(f"unknown role {role!r}")


# ---- health -------------------------------------------------------------------------------------------------


def health_url(role: str, env: Mapping[str, str]) -> str | None:
    return {
        "rasa": f"http://127.0.0.1:{env.get('RASA_PORT', '5005')}/",
        "actions": f"http://127.0.0.1:{env.get('ACTION_PORT', '5055')}/health",
        "console": f"http://127.0.0.1:{env.get('CONSOLE_PORT', '5070')}/health",
        "website": f"http://127.0.0.1:{env.get('WEBSITE_PORT', '5080')}/health",
        "crm-api": f"http://127.0.0.1:{CRM_API_PORT}/health",
    }.get(role)


def history_is_progressing() -> bool:
    """History ingestion has no port: it is alive when it committed a step (each one touches its checkpoint
    row, events or not) in the last HISTORY_STALE_SECONDS, or started less than that ago."""
    from datetime import datetime, timedelta

    from sqlalchemy import func, select

    from crm_adapter.sql.db import make_engine
    from history.rows import HistoryCheckpointRow

    started = ROLE_FILE.stat().st_mtime if ROLE_FILE.exists() else 0.0
    if time.time() - started < HISTORY_STALE_SECONDS:
        return True
    engine = make_engine(Settings.from_env().database_url)
    try:
        with engine.connect() as connection:
            newest = connection.scalar(select(func.max(HistoryCheckpointRow.updated_at)))
    finally:
        engine.dispose()
    if newest is not None and datetime.utcnow() - newest < timedelta(seconds=HISTORY_STALE_SECONDS):
        return True
    print(f"history ingestion has not committed a step since {newest} (UTC)", file=sys.stderr)
    return False


def healthcheck(role: str | None) -> int:
    role = role or (ROLE_FILE.read_text().strip() if ROLE_FILE.exists() else "")
    if role == "history":
        return 0 if history_is_progressing() else 1
    url = health_url(role, os.environ)
    if url is None:
        return 0  # a one-off command, or nothing started yet
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # a fixed local URL
            return 0 if response.status < 400 else 1
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    role, extra = argv[0], argv[1:]
    if role == "healthcheck":
        return healthcheck(extra[0] if extra else None)
    if role not in ROLES:
        os.execvp(role, argv)  # the operator's own command, e.g. `python -m hearth agents list`
    env = dict(os.environ)
    env.setdefault("BIND_ADDRESS", "0.0.0.0")  # noqa: S104 - the container's interface (the action server reads it)
    found = problems(role, env)
    if found:
        print(f"hearth {role}: cannot start:\n" + "\n".join(f"  - {problem}" for problem in found), file=sys.stderr)
        return 2
    if role == "rasa":
        env = prepare_rasa(env)
    argv = command(role, env) + extra
    ROLE_FILE.write_text(role)
    print(f"hearth {role}: starting", flush=True)  # not the command line: the Rasa server's carries its token
    os.execve(argv[0], argv, env)  # replaces this process, so the server gets the signals
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
