"""The Rasa server's endpoints and credentials files, from the environment.

bot/endpoints.yml and bot/credentials.yml are used as they are unless a variable switches on a section Rasa
cannot leave out by itself (the RabbitMQ event broker, the Redis lock store, a messaging channel): then a copy
with those sections is written to the data folder. The files name variables, never their values.
"""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

from hearth import ROOT

EVENT_BROKER = """
# Added by `python -m hearth` because RABBITMQ_URL is set: every event also goes to RabbitMQ,
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
        "# Added by `python -m hearth` because REDIS_URL is set: conversations are locked in Redis,",
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


# Messaging channels, each switched on by the environment variables it needs (docs/operator-guide.md: "Channels").
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
        base.read_text() + "\n# Messaging channels switched on by `python -m hearth`\n" + "".join(sections)
    )
    return str(target)
