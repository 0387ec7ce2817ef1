"""Hearth's launcher: train when needed, prepare the CRM, run every process under one runner.

    python scripts/hearth.py train      train unless a model for the current data+config exists
    python scripts/hearth.py run        migrate, seed if empty, train if needed, start everything
    python scripts/hearth.py env        print the environment the processes get

The model file is named after a fingerprint of config.yml, data/, bot/domain/, bot/nlu/ (custom
NLU components), bot/policies.py and the Rasa version, so an unchanged bot is never retrained,
and a changed one always is.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venvs" / "rasa" / "bin"
APP_BIN = ROOT / ".venvs" / "app" / "bin"
MODELS = ROOT / "models"
TRAINING_INPUTS = ("config.yml", "data", "bot/domain", "bot/nlu", "bot/policies.py")


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """Embedded defaults for everything; any variable already set wins."""
    env = dict(os.environ if base is None else base)
    data_dir = Path(env.setdefault("HEARTH_DATA_DIR", str(ROOT / "var"))).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
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
    env.setdefault("RASA_URL", f"http://127.0.0.1:{env['RASA_PORT']}")
    env["HEARTH_ENDPOINTS"] = endpoints_file(env, data_dir)
    env["HEARTH_CREDENTIALS"] = credentials_file(env, data_dir)
    return env


def development_secret(path: Path) -> str:
    """A random secret kept in the (git-ignored) data folder, made on first use; production sets its own."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


EVENT_BROKER = """
# Added by scripts/hearth.py because RABBITMQ_URL is set: every event also goes to RabbitMQ,
# where history ingestion reads it.
event_broker:
  type: pika
  url: ${RABBITMQ_HOST}
  port: ${RABBITMQ_PORT}
  username: ${RABBITMQ_USERNAME}
  password: ${RABBITMQ_PASSWORD}
  queues:
    - ${HISTORY_QUEUE}
"""


def endpoints_file(env: dict[str, str], data_dir: Path) -> str:
    """bot/endpoints.yml, plus the RabbitMQ event broker when RABBITMQ_URL is set.

    Rasa cannot leave a section out based on an unset variable, so the broker section is
    appended to a copy in the data folder; credentials stay in the environment, not the file
    (the copy keeps bot/endpoints.yml's `Authorization: Bearer ${ACTION_SERVER_TOKEN}` as it is).
    """
    base = ROOT / "bot" / "endpoints.yml"
    url = env.get("RABBITMQ_URL")
    if not url:
        return str(base)
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("amqp", "amqps") or not parsed.hostname:
        sys.exit(f"RABBITMQ_URL must look like amqp://user:password@host:5672/, not {url!r}")
    env["RABBITMQ_HOST"] = parsed.hostname
    env["RABBITMQ_PORT"] = str(parsed.port or 5672)
    env["RABBITMQ_USERNAME"] = urllib.parse.unquote(parsed.username or "guest")
    env["RABBITMQ_PASSWORD"] = urllib.parse.unquote(parsed.password or "guest")
    target = data_dir / "endpoints.yml"
    target.write_text(base.read_text() + EVENT_BROKER)
    return str(target)


# Messaging channels, each switched on by the environment variables it needs (README: "Channels").
# The file written to the data folder names the variables, so secrets stay in the environment.
# `*_API_URL` points a connector at another API server (a local Bot API server, a test double).
CHANNELS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    # name: (connector class, required {key: variable}, optional {key: variable})
    "telegram": (
        "bot.messaging.TelegramInput",
        {"access_token": "TELEGRAM_TOKEN", "verify": "TELEGRAM_BOT_NAME", "webhook_url": "TELEGRAM_WEBHOOK_URL"},
        {"api_url": "TELEGRAM_API_URL"},
    ),
    "slack": (
        "bot.messaging.SlackInput",
        {"slack_token": "SLACK_TOKEN", "slack_signing_secret": "SLACK_SIGNING_SECRET"},
        {"slack_channel": "SLACK_CHANNEL", "api_url": "SLACK_API_URL"},
    ),
    "twilio": (
        "bot.messaging.TwilioInput",
        {"account_sid": "TWILIO_ACCOUNT_SID", "auth_token": "TWILIO_AUTH_TOKEN", "twilio_number": "TWILIO_NUMBER"},
        {"webhook_url": "TWILIO_WEBHOOK_URL", "api_url": "TWILIO_API_URL"},
    ),
    "facebook": (
        "bot.messaging.FacebookInput",
        {"verify": "FACEBOOK_VERIFY", "secret": "FACEBOOK_SECRET", "page-access-token": "FACEBOOK_PAGE_ACCESS_TOKEN"},
        {"api_url": "FACEBOOK_API_URL"},
    ),
}


def credentials_file(env: dict[str, str], data_dir: Path) -> str:
    """bot/credentials.yml (REST and web chat), plus each messaging channel whose variables are all set.

    A channel with only some of its variables set is a configuration mistake: say which are missing.
    """
    base = ROOT / "bot" / "credentials.yml"
    sections = []
    for name, (connector, required, optional) in CHANNELS.items():
        present = [var for var in required.values() if env.get(var)]
        if not present:
            continue
        missing = [var for var in required.values() if not env.get(var)]
        if missing:
            sys.exit(f"the {name} channel needs {', '.join(missing)} as well as {', '.join(present)}")
        keys = {**required, **{key: var for key, var in optional.items() if env.get(var)}}
        sections.append(f"{connector}:\n" + "".join(f"  {key}: ${{{var}}}\n" for key, var in keys.items()))
    if not sections:
        return str(base)
    target = data_dir / "credentials.yml"
    target.write_text(
        base.read_text() + "\n# Messaging channels switched on by scripts/hearth.py\n" + "".join(sections)
    )
    return str(target)


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in TRAINING_INPUTS:
        path = ROOT / name
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    digest.update((RASA_BIN.parent / ".lock-hash").read_bytes() if (RASA_BIN.parent / ".lock-hash").exists() else b"")
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS / f"hearth-{fingerprint()}.tar.gz"


def train(env: dict[str, str]) -> Path:
    target = model_path()
    if target.exists():
        print(f"==> model up to date: {target.relative_to(ROOT)} (data and config unchanged, not retraining)")
        return target
    print(f"==> training {target.relative_to(ROOT)} ...", flush=True)
    started = time.monotonic()
    MODELS.mkdir(exist_ok=True)
    subprocess.run(
        [
            str(RASA_BIN / "rasa"),
            "train",
            "--domain",
            "bot/domain",
            "--data",
            "data",
            "--config",
            "config.yml",
            "--out",
            str(MODELS),
            "--fixed-model-name",
            target.name.removesuffix(".tar.gz"),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    elapsed = time.monotonic() - started
    print(f"==> trained in {elapsed:.0f} s")
    for old in sorted(MODELS.glob("hearth-*.tar.gz"), key=lambda p: p.stat().st_mtime)[:-3]:
        old.unlink()  # keep the three newest
    return target


def prepare_crm(env: dict[str, str]) -> None:
    python = str(APP_BIN / "python")
    subprocess.run([python, "-m", "crm_adapter", "migrate"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "crm_adapter", "seed"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "crm_adapter", "values"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "crm_adapter", "agents", "ensure-dev"], cwd=ROOT, env=env, check=True)


def wait_until_ready(env: dict[str, str], timeout: float = 300) -> None:
    """Used by the runner's 'ready' process: tells the person at the keyboard where to talk to the bot."""
    rasa = f"http://127.0.0.1:{env['RASA_PORT']}"
    actions = f"http://127.0.0.1:{env['ACTION_PORT']}/health"
    console = f"http://127.0.0.1:{env['CONSOLE_PORT']}"
    website = f"http://127.0.0.1:{env['WEBSITE_PORT']}"
    started = time.monotonic()
    for url in (rasa + "/", actions, console + "/health", website + "/health"):
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() - started > timeout:
                    print(f"not ready after {timeout:.0f} s: {url}", flush=True)
                    sys.exit(1)
                time.sleep(0.5)
    print(
        f"\n  Hearth is ready ({time.monotonic() - started:.0f} s).\n"
        f"  Web chat on the demo shop's website: {website}/  (sign in as anna.berg@example.com, password\n"
        f"  WEBSITE_DEMO_PASSWORD, by default 'juniper', and Juno greets you by name).\n"
        f"  Talk to the bot over REST:\n"
        f"    curl -s -X POST {rasa}/webhooks/rest/webhook -H 'Content-Type: application/json' \\\n"
        f'         -d \'{{"sender": "demo-anna", "message": "hi"}}\'\n'
        f"  ('demo-anna' is a seeded returning customer; any other sender starts anonymous.)\n"
        f"  Agent console: {console}/ (sign in as `agent` or `admin`; passwords CONSOLE_AGENT_PASSWORD /\n"
        f"  CONSOLE_ADMIN_PASSWORD or, in development, the files console_agent_password / console_admin_password\n"
        f"  in the data folder {env['HEARTH_DATA_DIR']}).\n"
        f"  Stop everything with Ctrl-C.\n",
        flush=True,
    )
    while True:  # stay alive: the runner stops all processes when one exits
        time.sleep(3600)


def run(env: dict[str, str]) -> None:
    prepare_crm(env)
    env["HEARTH_MODEL"] = str(train(env))
    honcho = shutil.which("honcho", path=str(APP_BIN))
    assert honcho, "honcho missing from .venvs/app: run scripts/bootstrap.sh"
    os.chdir(ROOT)
    os.execve(honcho, [honcho, "-f", "Procfile", "--no-colour", "start"], env)


def processes(data_dir: Path, marker: bytes) -> list[int]:
    """Pids of this product's processes that run with `data_dir` and whose command line contains `marker`
    (arguments are NUL-separated: b"rasa\x00run", b"crm_adapter\x00ingest" -- not the shell loop that restarts it);
    for benchmarks and tests that watch or kill one."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if marker not in (proc / "cmdline").read_bytes():
                continue
            if f"HEARTH_DATA_DIR={data_dir}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue  # gone, or not ours to read
    return found


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "run"
    env = environment()
    if command == "train":
        train(env)
    elif command == "model-path":
        print(model_path())
    elif command == "run":
        run(env)
    elif command == "wait-ready":
        wait_until_ready(env)
    elif command == "env":
        for key in sorted(k for k in env if k.isupper() and not k.startswith(("LS_", "TERM"))):
            print(f"{key}={env[key]}")
    else:
        sys.exit(f"unknown command {command!r}: use train, run, model-path or env")


if __name__ == "__main__":
    main()
