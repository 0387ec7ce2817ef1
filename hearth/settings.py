"""Hearth's configuration: every environment variable the product's processes read, parsed and checked here once.

`Settings.from_env()` reads them with embedded defaults for one machine and refuses a malformed value with a
message naming the variable. `problems()` holds the rules a deployment must satisfy: in production (HEARTH_ENV=
production) every secret comes from the environment and the databases are PostgreSQL; a container's role needs
the variables of that role. The run command, the container entrypoint and every process (action server, console,
website, CRM API, worker, command line) use this module; the composition root (hearth/container.py) turns it into
services. Standard library only: the Rasa image's Python runs it too.

The launcher's own process wiring (ports, replicas, the files it writes for Rasa) stays in the launcher; the
Rasa server's few variables (bot/) are read in the Rasa process, which runs without this package's services.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from hearth import ROOT
from shared import rest_clients, web_origins

ROLES = ("rasa", "actions", "history", "console", "website", "crm-api", "migrate")
PLACEHOLDER = "CHANGE_ME"  # what the Kubernetes Secret template holds until an operator fills it in
DATABASE_URLS = ("TRACKER_DB_URL", "CRM_DATABASE_URL")
PRODUCTION_SECRETS = ("WEB_IDENTITY_SECRET", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "CRM_SECRET")
TRUE = frozenset({"1", "true", "yes"})
MIN_RASA_API_KEY_CHARS = 32  # RASA_API_TOKEN in production: the HS256 key of the Rasa server's HTTP API
# The roles that email, and what: the worker makes and sends the one-time codes the others queue.
SMTP_ROLES = {"history": "one-time codes", "actions": "data exports", "crm-api": "data exports"}
DEFAULT_WEBSITE_DEMO_PASSWORD = "juniper"  # the demo customers' password on the shop's website, when not set


@dataclass(frozen=True)
class Smtp:
    host: str | None  # None: no mail server; codes and exports go to the outbox (development)
    port: int = 25
    user: str | None = None
    password: str = ""
    starttls: bool = False
    sender: str | None = None  # the From header; None: each kind of message has its own default address


@dataclass(frozen=True)
class Helpdesk:
    url: str | None  # an external helpdesk's webhook; None: none
    secret: str | None = None
    timeout: float = 5.0
    max_attempts: int = 6


@dataclass(frozen=True)
class Settings:
    production: bool
    data_dir: Path
    # the CRM
    backend: str  # "sql" | "http"
    database_url: str
    http_base_url: str | None
    http_token: str | None
    http_timeout: float
    crm_secret: str | None  # None in development: a random one kept in the data folder (`secret()`)
    code_sender: str  # "smtp" (email, when SMTP_HOST is set) | "log" (development: the code is logged)
    smtp: Smtp
    # history ingestion and the worker's jobs
    tracker_db_url: str  # Rasa's SQL tracker store
    rabbitmq_url: str | None
    history_source: str  # "tracker" | "rabbitmq"
    history_queue: str
    history_idle: timedelta  # a conversation idle this long has ended (Rasa's session expiry)
    value_refresh: timedelta
    helpdesk: Helpdesk
    # bringing in a person, and the relationship's frequency rules
    handoff_hours: str
    handoff_timezone: str
    handoff_auto_assign: bool  # waiting conversations go to online agents with room, in turn
    csat_min_interval: timedelta
    nps_period: timedelta
    proposal_interval: timedelta
    # the web processes
    rasa_url: str | None
    rasa_api_token: str | None
    console_secure_cookies: bool  # always in production; CONSOLE_SECURE_COOKIES=1 also in development
    crm_api_token: str | None
    webchat_socket_url: str
    web_identity_secret: str | None
    website_demo_password: str
    web_identity_ttl: int
    action_server_token: str | None
    console_admin_password: str | None  # the development accounts' passwords (`hearth agents ensure-dev`)
    console_agent_password: str | None
    # the Rasa server's (checked here so a malformed value stops every process at start, not the first request)
    rest_clients: tuple[rest_clients.RestClient, ...]  # who may post to the REST channel
    web_chat_origins: tuple[str, ...]  # the website origins allowed to open the web chat

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (the process's environment by default); ValueError names a malformed variable."""
        env = os.environ if env is None else env
        read = _Reader(env)
        data_dir = Path(read.text("HEARTH_DATA_DIR") or ROOT / "var").resolve()
        backend = read.choice("CRM_BACKEND", ("sql", "http"), "sql")
        smtp_host = read.text("SMTP_HOST")
        code_sender = read.choice("CODE_SENDER", ("smtp", "log"), "smtp" if smtp_host else "log")
        if code_sender == "smtp" and not smtp_host:
            raise ValueError("CODE_SENDER must be 'log', or 'smtp' with SMTP_HOST set")
        if backend == "http" and not read.text("CRM_HTTP_BASE_URL"):
            raise ValueError("CRM_BACKEND=http needs CRM_HTTP_BASE_URL")
        rabbitmq_url = read.text("RABBITMQ_URL")
        rasa_api_token = read.text("RASA_API_TOKEN")
        if is_production(env) and rasa_api_token and PLACEHOLDER not in rasa_api_token:
            if len(rasa_api_token) < MIN_RASA_API_KEY_CHARS:
                raise ValueError(
                    f"RASA_API_TOKEN must be at least {MIN_RASA_API_KEY_CHARS} characters in production, not "
                    f"{len(rasa_api_token)}: it signs the console's tokens for the Rasa server's HTTP API "
                    "(e.g. the output of `openssl rand -hex 32`)"
                )
        return cls(
            production=is_production(env),
            data_dir=data_dir,
            backend=backend,
            database_url=read.text("CRM_DATABASE_URL") or f"sqlite:///{data_dir / 'crm.db'}",
            http_base_url=read.text("CRM_HTTP_BASE_URL"),
            http_token=read.text("CRM_HTTP_TOKEN"),
            http_timeout=read.number("CRM_HTTP_TIMEOUT", 5.0),
            crm_secret=read.text("CRM_SECRET"),
            code_sender=code_sender,
            smtp=Smtp(
                host=smtp_host,
                port=int(read.number("SMTP_PORT", 25, whole=True)),
                user=read.text("SMTP_USER"),
                password=env.get("SMTP_PASSWORD", ""),
                starttls=read.flag("SMTP_STARTTLS"),
                sender=read.text("SMTP_FROM"),
            ),
            tracker_db_url=read.text("TRACKER_DB_URL") or f"sqlite:///{data_dir / 'tracker.db'}",
            rabbitmq_url=rabbitmq_url,
            history_source=read.choice(
                "HISTORY_SOURCE", ("tracker", "rabbitmq"), "rabbitmq" if rabbitmq_url else "tracker"
            ),
            history_queue=read.text("HISTORY_QUEUE") or "hearth_history",
            history_idle=timedelta(minutes=read.number("HISTORY_IDLE_MINUTES", 60)),
            value_refresh=timedelta(minutes=read.number("VALUE_REFRESH_MINUTES", 60)),
            helpdesk=_helpdesk(read),
            handoff_hours=read.text("HANDOFF_HOURS") or "mon-fri 08:00-20:00; sat 09:00-17:00",
            handoff_timezone=read.text("HANDOFF_TIMEZONE") or "Europe/London",
            handoff_auto_assign=read.choice("HANDOFF_AUTO_ASSIGN", ("on", "off"), "on") == "on",
            csat_min_interval=timedelta(hours=read.number("CSAT_MIN_HOURS", 24)),
            nps_period=timedelta(days=read.number("NPS_PERIOD_DAYS", 90)),
            proposal_interval=timedelta(days=read.number("PREFERENCE_PROPOSAL_DAYS", 30)),
            rasa_url=read.text("RASA_URL"),
            rasa_api_token=rasa_api_token,
            console_secure_cookies=is_production(env) or read.flag("CONSOLE_SECURE_COOKIES"),
            crm_api_token=read.text("CRM_API_TOKEN"),
            webchat_socket_url=read.text("WEBCHAT_SOCKET_URL") or "http://127.0.0.1:5005",
            web_identity_secret=read.text("WEB_IDENTITY_SECRET"),
            website_demo_password=env.get("WEBSITE_DEMO_PASSWORD", DEFAULT_WEBSITE_DEMO_PASSWORD),
            web_identity_ttl=int(read.number("WEB_IDENTITY_TTL_SECONDS", 3600, whole=True)),
            action_server_token=read.text("ACTION_SERVER_TOKEN"),
            console_admin_password=env.get("CONSOLE_ADMIN_PASSWORD") or None,
            console_agent_password=env.get("CONSOLE_AGENT_PASSWORD") or None,
            rest_clients=rest_clients.parse(env.get(rest_clients.VARIABLE)),
            web_chat_origins=web_origins.parse(env.get(web_origins.VARIABLE)),
        )

    def secret(self) -> str:
        """CRM_SECRET, or a random one kept in the (git-ignored) data folder for development."""
        if self.crm_secret:
            return self.crm_secret
        path = self.data_dir / "crm_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def outbox(self) -> Path:
        """Where development emails (exports) are written when no mail server is configured."""
        return self.data_dir / "outbox"


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def flag(self, name: str) -> bool:
        return (self.text(name) or "").lower() in TRUE

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = (self.text(name) or default).lower()
        if value not in allowed:
            options = " or ".join(repr(a) for a in allowed)
            raise ValueError(f"{name} must be {options}, not {value!r}")
        return value

    def number(self, name: str, default: float, whole: bool = False) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return int(raw) if whole else float(raw)
        except ValueError:
            raise ValueError(f"{name} must be {'a whole number' if whole else 'a number'}, not {raw!r}") from None


def _helpdesk(read: _Reader) -> Helpdesk:
    url = read.text("HELPDESK_WEBHOOK_URL")
    if url is not None:
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise ValueError(f"HELPDESK_WEBHOOK_URL is not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https") or not host:
            raise ValueError(
                "HELPDESK_WEBHOOK_URL must be an http:// or https:// URL with a host, "
                f"e.g. https://helpdesk.example.com/hooks/hearth (got scheme {parts.scheme or 'none'!r})"
            )
    raw_timeout = read.text("HELPDESK_TIMEOUT") or "5"
    try:
        timeout = float(raw_timeout)
    except ValueError:
        raise ValueError(f"HELPDESK_TIMEOUT must be a number of seconds, not {raw_timeout!r}") from None
    if not 0 < timeout <= 60:
        raise ValueError(f"HELPDESK_TIMEOUT must be more than 0 and at most 60 seconds, not {timeout:g}")
    max_attempts = int(read.number("HELPDESK_MAX_ATTEMPTS", 6, whole=True))
    if max_attempts < 1:
        raise ValueError(f"HELPDESK_MAX_ATTEMPTS must be at least 1, not {max_attempts}")
    return Helpdesk(url, read.text("HELPDESK_WEBHOOK_SECRET"), timeout, max_attempts)


def is_production(env: Mapping[str, str]) -> bool:
    """HEARTH_ENV=production: every secret from the environment, PostgreSQL, no development defaults."""
    return env.get("HEARTH_ENV", "").strip().lower() == "production"


# ---- the rules a deployment must satisfy ----------------------------------------------------------------


def required(role: str, env: Mapping[str, str]) -> tuple[str, ...]:
    """The variables a container of `role` cannot start without. With CRM_BACKEND=http the actions, the website
    and the CRM API speak to the external CRM instead of the CRM database."""
    external_crm = env.get("CRM_BACKEND", "sql").strip().lower() == "http"
    crm = ("CRM_HTTP_BASE_URL",) if external_crm else ("CRM_DATABASE_URL", "CRM_SECRET")
    return {
        "rasa": (
            "TRACKER_DB_URL",
            "ACTION_ENDPOINT_URL",
            "ACTION_SERVER_TOKEN",
            "WEB_IDENTITY_SECRET",
            "RASA_API_TOKEN",
        ),
        "actions": (*crm, "ACTION_SERVER_TOKEN"),
        # the worker makes and emails the one-time codes the actions and the CRM API queue: it stores them keyed
        # with CRM_SECRET, which must be the actions' (they check the codes)
        "history": ("CRM_DATABASE_URL", "CRM_SECRET", "TRACKER_DB_URL"),
        "console": ("CRM_DATABASE_URL", "TRACKER_DB_URL", "RASA_URL", "RASA_API_TOKEN"),
        "website": (*crm, "WEB_IDENTITY_SECRET", "WEBCHAT_SOCKET_URL"),
        "crm-api": (*crm, "CRM_API_TOKEN"),
        "migrate": ("CRM_DATABASE_URL",),
    }[role]


def role_problems(role: str, env: Mapping[str, str]) -> list[str]:
    """Everything wrong with `env` for a container of `role` (production), in words; empty when it can start."""
    found = [f"{name} is not set" for name in required(role, env) if not env.get(name, "").strip()]
    for name, value in sorted(env.items()):
        if PLACEHOLDER in value:
            found.append(f"{name} still holds the {PLACEHOLDER} placeholder of the Secret template")
    for name in DATABASE_URLS:
        if env.get(name, "").startswith("sqlite"):
            found.append(f"{name} is a SQLite file: use PostgreSQL (a file in one container is not shared)")
    if role in SMTP_ROLES and not env.get("SMTP_HOST") and env.get("CODE_SENDER", "") != "log":
        found.append(
            f"SMTP_HOST is not set: {SMTP_ROLES[role]} could not be emailed "
            "(CODE_SENDER=log writes them to the outbox in the data folder: trials)"
        )
    if role == "history" and env.get("CRM_BACKEND", "sql").strip().lower() == "http":
        found.append("CRM_BACKEND=http: history ingestion works on the CRM database only; run no history container")
    return found + _malformed(env)


def machine_problems(env: Mapping[str, str], rasa_replicas: int = 1) -> list[str]:
    """Everything wrong with `env` for production mode on one machine (the run command), in words."""
    external_crm = env.get("CRM_BACKEND", "sql") == "http"
    needed = [name for name in PRODUCTION_SECRETS if name != "CRM_SECRET" or not external_crm]
    found = [f"{name} is not set" for name in needed if not env.get(name, "").strip()]
    for name in DATABASE_URLS:
        if not env.get(name, "").strip():
            found.append(f"{name} is not set")
        elif env[name].startswith("sqlite"):
            found.append(f"{name} is a SQLite file: use PostgreSQL")
    if rasa_replicas > 1 and not env.get("REDIS_URL"):
        found.append("REDIS_URL is not set: several Rasa servers must lock conversations in Redis")
    if not env.get("SMTP_HOST") and env.get("CODE_SENDER", "") != "log":
        found.append(
            "SMTP_HOST is not set: one-time codes could not be emailed "
            "(CODE_SENDER=log writes them to the outbox in the data folder)"
        )
    return found + _malformed(env)


def _malformed(env: Mapping[str, str]) -> list[str]:
    try:
        Settings.from_env(env)
    except ValueError as exc:
        return [str(exc)]
    return []
