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
    if production(env) and (problems := production_problems(env)):
        sys.exit("HEARTH_ENV=production, but:\n  " + "\n  ".join(problems))
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
    env["HEARTH_PROCFILE"] = procfile(env, data_dir)
    return env


def production(env: dict[str, str]) -> bool:
    return env.get("HEARTH_ENV", "").strip().lower() == "production"


# In production every secret comes from the environment: the run command makes none, and stops naming what is
# missing. SQLite files are for one machine's development only.
PRODUCTION_SECRETS = ("WEB_IDENTITY_SECRET", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "CRM_SECRET")


def production_problems(env: dict[str, str]) -> list[str]:
    needed = [n for n in PRODUCTION_SECRETS if n != "CRM_SECRET" or env.get("CRM_BACKEND", "sql") != "http"]
    found = [f"{name} is not set" for name in needed if not env.get(name, "").strip()]
    for name in ("TRACKER_DB_URL", "CRM_DATABASE_URL"):
        if not env.get(name, "").strip():
            found.append(f"{name} is not set")
        elif env[name].startswith("sqlite"):
            found.append(f"{name} is a SQLite file: use PostgreSQL")
    if replicas(env, "RASA_REPLICAS") > 1 and not env.get("REDIS_URL"):
        found.append("REDIS_URL is not set: several Rasa servers must lock conversations in Redis")
    if not env.get("SMTP_HOST") and env.get("CODE_SENDER", "") != "log":
        found.append("SMTP_HOST is not set: one-time codes could not be emailed (CODE_SENDER=log logs them)")
    return found


def replicas(env: dict[str, str], name: str) -> int:
    value = env.get(name, "1").strip() or "1"
    if not value.isdigit() or not 1 <= int(value) <= 16:
        sys.exit(f"{name} must be a whole number from 1 to 16, not {value!r}")
    return int(value)


def development_secret(path: Path) -> str:
    """A random secret kept in the (git-ignored) data folder, made on first use; production sets its own."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


EVENT_BROKER = """
# Added by scripts/hearth.py because RABBITMQ_URL is set: every event also goes to RabbitMQ,
# where history ingestion reads it. RABBITMQ_HOST is scheme://host[/vhost] (amqps:// keeps TLS).
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
    """bot/endpoints.yml, plus the RabbitMQ event broker when RABBITMQ_URL is set and the Redis lock store when
    REDIS_URL is set.

    Rasa cannot leave a section out based on an unset variable, so these sections are appended to a copy in
    the data folder; credentials stay in the environment, not the file (the copy keeps bot/endpoints.yml's
    `Authorization: Bearer ${ACTION_SERVER_TOKEN}` as it is).
    """
    base = ROOT / "bot" / "endpoints.yml"
    sections = []
    if url := env.get("RABBITMQ_URL"):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("amqp", "amqps") or not parsed.hostname:
            sys.exit("RABBITMQ_URL must look like amqp://user:password@host:5672/ (amqps:// for TLS)")
        # Rasa's broker takes a URL as its host (and adds the port and credentials to it): the scheme keeps TLS,
        # the path the virtual host
        vhost = parsed.path if parsed.path not in ("", "/") else ""
        env["RABBITMQ_HOST"] = f"{parsed.scheme}://{parsed.hostname}{vhost}"
        env["RABBITMQ_PORT"] = str(parsed.port or (5671 if parsed.scheme == "amqps" else 5672))
        env["RABBITMQ_USERNAME"] = urllib.parse.unquote(parsed.username or "guest")
        env["RABBITMQ_PASSWORD"] = urllib.parse.unquote(parsed.password or "guest")
        sections.append(EVENT_BROKER)
    if env.get("REDIS_URL"):
        sections.append(lock_store_section(env))
    if not sections:
        return str(base)
    target = data_dir / "endpoints.yml"
    target.write_text(base.read_text() + "".join(sections))
    return str(target)


def lock_store_section(env: dict[str, str]) -> str:
    """Rasa's Redis lock store from REDIS_URL (redis://[:password@]host[:port][/db], rediss:// for TLS): a
    conversation is handled by one Rasa server at a time, whichever receives its messages. Like the broker
    section, it names variables, never their values."""
    parsed = urllib.parse.urlsplit(env["REDIS_URL"])
    if parsed.scheme not in ("redis", "rediss") or not parsed.hostname:
        sys.exit("REDIS_URL must look like redis://:password@host:6379/1 (rediss:// for TLS)")
    database = parsed.path.strip("/") or "1"  # Rasa's own default database for locks
    if not database.isdigit():
        sys.exit(f"REDIS_URL's database must be a number, not {database!r}")
    env["REDIS_HOST"] = parsed.hostname
    env["REDIS_PORT"] = str(parsed.port or 6379)
    # A lock whose Rasa server died is freed after this long (Rasa's default, 60 s, would hold that
    # conversation's next message past the load balancer's patience)
    env.setdefault("TICKET_LOCK_LIFETIME", "15")
    lines = [
        "",
        "# Added by scripts/hearth.py because REDIS_URL is set: conversations are locked in Redis,",
        "# so several Rasa servers can share them.",
        "lock_store:",
        "  type: bot.lock_store.AtomicRedisLockStore",
        "  url: ${REDIS_HOST}",
        "  port: ${REDIS_PORT}",
        f"  db: {int(database)}",
        "  key_prefix: hearth",
    ]
    if parsed.username:
        env["REDIS_USERNAME"] = urllib.parse.unquote(parsed.username)
        lines.append("  username: ${REDIS_USERNAME}")
    if parsed.password:
        env["REDIS_PASSWORD"] = urllib.parse.unquote(parsed.password)
        lines.append("  password: ${REDIS_PASSWORD}")
    if parsed.scheme == "rediss":
        lines.append("  use_ssl: true")
    return "\n".join(lines) + "\n"


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


# ---- several Rasa servers and action servers behind nginx (RASA_REPLICAS, ACTION_REPLICAS) -----------------

NGINX_CONF = """# Written by scripts/hearth.py: nginx before {rasa_count} Rasa and {action_count} action servers.
worker_processes 1;
pid {dir}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    log_format upstream '$remote_addr "$request_method $uri" $status upstream=$upstream_addr $request_time';
    access_log {dir}/access.log upstream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    # nothing goes to temporary files: the worker may run as another user than the folder's owner
    client_max_body_size 1m;
    client_body_buffer_size 1m;
    proxy_max_temp_file_size 0;
    proxy_buffers 16 64k;
    proxy_http_version 1.1;
    proxy_read_timeout 90s;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}

    # Messages and API calls go round-robin: the Redis lock store keeps each conversation on one server at a
    # time, and every server reads the conversation from the shared tracker store.
    upstream rasa {{
{rasa_servers}
        keepalive 16;
        keepalive_timeout 4s;  # below Sanic's 5 s, so nginx never reuses a connection the server closed
    }}
    # socket.io starts with long-polling, whose requests must reach the server that holds the session:
    # by client address. Replies an agent sends through any server reach the socket through Redis.
    upstream rasa_socketio {{
        hash $remote_addr consistent;
{rasa_servers}
    }}
    upstream actions {{
{action_servers}
        keepalive 16;
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{rasa_port};
        location /socket.io/ {{
            proxy_pass http://rasa_socketio;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
        }}
        # A server that dies while handling a message has not saved the turn (Rasa saves the conversation
        # after the turn), so the message is safely handled again by the other one.
        location /webhooks/ {{
            proxy_pass http://rasa;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        }}
        location / {{
            proxy_pass http://rasa;
            proxy_set_header Connection "";
        }}
    }}
    server {{
        listen 127.0.0.1:{action_port};
        client_max_body_size 16m;  # Rasa sends the conversation with every action call
        client_body_buffer_size 16m;
        location / {{
            proxy_pass http://actions;
            proxy_set_header Connection "";
            proxy_next_upstream error timeout http_502 http_503;
        }}
    }}
}}
"""


def replica_ports(env: dict[str, str], kind: str) -> list[int]:
    """The ports of the Rasa (`RASA`) or action (`ACTION`) server replicas: RASA_REPLICA_PORTS /
    ACTION_REPLICA_PORTS (comma-separated), by default the ports after RASA_PORT / ACTION_PORT."""
    count = replicas(env, f"{kind}_REPLICAS")
    if count == 1:
        return [int(env[f"{kind}_PORT"])]
    given = env.get(f"{kind}_REPLICA_PORTS", "")
    if given:
        ports = [int(p) for p in given.split(",") if p.strip().isdigit()]
        if len(ports) != count:
            sys.exit(f"{kind}_REPLICA_PORTS must name {count} ports, not {given!r}")
        return ports
    return [int(env[f"{kind}_PORT"]) + i for i in range(1, count + 1)]


def upstream_servers(ports: list[int]) -> str:
    """nginx's lines for the replicas on `ports`: one that fails 3 times is left out for 5 s."""
    return "\n".join(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;" for port in ports)


def procfile(env: dict[str, str], data_dir: Path) -> str:
    """The Procfile to run: the repository's for one Rasa server and one action server; with more, a copy in
    the data folder where each replica runs on its own port under a restart loop (as a supervisor would
    restart it) and nginx listens on RASA_PORT and ACTION_PORT in front of them."""
    base = ROOT / "Procfile"
    rasa_ports, action_ports = replica_ports(env, "RASA"), replica_ports(env, "ACTION")
    if len(rasa_ports) == 1 and len(action_ports) == 1:
        return str(base)
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not nginx:
        sys.exit(
            "RASA_REPLICAS/ACTION_REPLICAS need nginx in front of the replicas: install it (apt-get install nginx)"
        )
    lines = []
    for line in base.read_text().splitlines():
        name, _, command = line.partition(": ")
        ports = {"rasa": ("RASA_PORT", rasa_ports), "actions": ("ACTION_PORT", action_ports)}.get(name)
        if not ports:
            lines.append(line)
            continue
        variable, numbers = ports
        for i, port in enumerate(numbers, start=1):
            run_once = command.removeprefix("exec ")
            lines.append(
                f"{name}{i}: export {variable}={port}; while true; do {run_once}; "
                f'echo "{name}{i} stopped (exit $?); restarting in 1 s"; sleep 1; done'
            )
    conf_dir = data_dir / "nginx"
    conf_dir.mkdir(exist_ok=True)
    conf = conf_dir / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            dir=conf_dir,
            rasa_count=len(rasa_ports),
            action_count=len(action_ports),
            rasa_servers=upstream_servers(rasa_ports),
            action_servers=upstream_servers(action_ports),
            rasa_port=env["RASA_PORT"],
            action_port=env["ACTION_PORT"],
        )
    )
    lines.append(f"balancer: exec {nginx} -p {conf_dir} -c {conf} -e stderr -g 'daemon off;'")
    target = data_dir / "Procfile"
    target.write_text("\n".join(lines) + "\n")
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
    """Migrate; on embedded defaults also add the demo shop's customers and the development console accounts
    (in production neither: accounts are added with `crm_adapter agents add`)."""
    python = str(APP_BIN / "python")
    subprocess.run([python, "-m", "crm_adapter", "migrate"], cwd=ROOT, env=env, check=True)
    if not production(env):
        subprocess.run([python, "-m", "crm_adapter", "seed"], cwd=ROOT, env=env, check=True)
    subprocess.run([python, "-m", "crm_adapter", "values"], cwd=ROOT, env=env, check=True)
    if not production(env):
        subprocess.run([python, "-m", "crm_adapter", "agents", "ensure-dev"], cwd=ROOT, env=env, check=True)


def wait_until_ready(env: dict[str, str], timeout: float = 300) -> None:
    """Used by the runner's 'ready' process: tells the person at the keyboard where to talk to the bot."""
    rasa = f"http://127.0.0.1:{env['RASA_PORT']}"
    actions = f"http://127.0.0.1:{env['ACTION_PORT']}/health"
    console = f"http://127.0.0.1:{env['CONSOLE_PORT']}"
    website = f"http://127.0.0.1:{env['WEBSITE_PORT']}"
    started = time.monotonic()
    replicas_up = [f"http://127.0.0.1:{p}/" for p in replica_ports(env, "RASA")]
    replicas_up += [f"http://127.0.0.1:{p}/health" for p in replica_ports(env, "ACTION")]
    for url in dict.fromkeys((*replicas_up, rasa + "/", actions, console + "/health", website + "/health")):
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
    os.execve(honcho, [honcho, "-f", env["HEARTH_PROCFILE"], "-d", str(ROOT), "--no-colour", "start"], env)


def processes(data_dir: Path, marker: bytes) -> list[int]:
    """Pids of this product's processes that run with `data_dir` and whose command line contains `marker`
    (arguments are NUL-separated: b"bot.run_rasa\x00run", b"crm_adapter\x00ingest" -- not the shell loop that
    restarts it); for benchmarks and tests that watch or kill one."""
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
