"""The environment every process gets: embedded defaults for everything, any variable already set wins."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from hearth import ROOT
from hearth.production import procfile, production, production_problems
from hearth.rasa_config import credentials_file, endpoints_file


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Embedded defaults for everything; any variable already set wins."""
    env = dict(os.environ if base is None else base)
    if production(env) and (problems := production_problems(env)):
        sys.exit("HEARTH_ENV=production, but:\n  " + "\n  ".join(problems))
    data_dir = Path(env.setdefault("HEARTH_DATA_DIR", str(ROOT / "var"))).resolve()
    private_data_folder(data_dir)
    env.setdefault("RASA_PORT", "5005")
    env.setdefault("ACTION_PORT", "5055")
    env.setdefault("CONSOLE_PORT", "5070")
    env.setdefault("WEBSITE_PORT", "5080")
    env.setdefault("WEBCHAT_SOCKET_URL", f"http://127.0.0.1:{env['RASA_PORT']}")
    env.setdefault("ACTION_ENDPOINT_URL", f"http://127.0.0.1:{env['ACTION_PORT']}/webhook")
    env.setdefault("TRACKER_DB_URL", f"sqlite:///{data_dir / 'tracker.db'}")
    env.setdefault("CRM_DATABASE_URL", f"sqlite:///{data_dir / 'crm.db'}")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("HISTORY_QUEUE", "hearth_history")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if not env.get("WEB_IDENTITY_SECRET"):
        env["WEB_IDENTITY_SECRET"] = development_secret(data_dir / "web_identity_secret")
    if not env.get("RASA_API_TOKEN"):  # the console speaks to Rasa's HTTP API (agent replies, hand-back) with it
        env["RASA_API_TOKEN"] = development_secret(data_dir / "rasa_api_token")
    if not env.get("ACTION_SERVER_TOKEN"):  # the Rasa server sends it (bot/endpoints.yml), the action server checks it
        env["ACTION_SERVER_TOKEN"] = development_secret(data_dir / "action_server_token")
    if not env.get("REST_CLIENTS") and not production(env):
        # Who may post to the REST channel (shared/rest_clients.py): on one's own machine, whoever can read the data
        # folder, as the demo's integration that vouches for its senders. In production only the integrations the
        # operator names (none: the REST channel refuses every call).
        env["REST_CLIENTS"] = f"dev:{development_secret(data_dir / 'rest_client_token')}:vouches"
    # Every process listens on the loopback address unless told otherwise (a container sets 0.0.0.0), and the web
    # chat's socket.io and Rasa's CORS answer only the website's own origins.
    env.setdefault("BIND_ADDRESS", "127.0.0.1")
    env.setdefault("WEB_CHAT_ORIGINS", f"http://127.0.0.1:{env['WEBSITE_PORT']},http://localhost:{env['WEBSITE_PORT']}")
    env.setdefault("RASA_URL", f"http://127.0.0.1:{env['RASA_PORT']}")
    env["HEARTH_ENDPOINTS"] = endpoints_file(env, data_dir)
    env["HEARTH_CREDENTIALS"] = credentials_file(env, data_dir)
    env["HEARTH_PROCFILE"] = procfile(env, data_dir)
    return env


def private_data_folder(data_dir: Path) -> None:
    """Make the data folder (secrets, databases, the outbox) its owner's only: the folder 0700 and the SQLite files
    already in it 0600 (the run command starts its processes with a umask of 0o077 for the files they make).
    A folder or file someone else owns (a mounted volume) is left as it is."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (data_dir, *data_dir.glob("*.db"), *data_dir.glob("*.db-*")):
        if path.stat().st_uid == os.getuid():
            path.chmod(0o700 if path.is_dir() else 0o600)


def development_secret(path: Path) -> str:
    """A random secret kept in the (git-ignored) data folder, made on first use; production sets its own."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
