"""hearth/settings.py: every variable parsed and checked once, with a message naming it; the container turns the
settings into services (hearth/container.py); the production rules of a machine and of each container role."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from handoff.helpdesk import HelpdeskSettings
from hearth.container import Container
from hearth.settings import Settings, machine_problems, role_problems

pytestmark = pytest.mark.unit


def test_embedded_defaults_for_one_machine(tmp_path: Path) -> None:
    settings = Settings.from_env({"HEARTH_DATA_DIR": str(tmp_path)})
    assert not settings.production and settings.backend == "sql" and settings.code_sender == "log"
    assert settings.database_url == f"sqlite:///{tmp_path / 'crm.db'}"
    assert settings.tracker_db_url == f"sqlite:///{tmp_path / 'tracker.db'}"
    assert settings.history_source == "tracker" and settings.history_idle == timedelta(minutes=60)
    assert (settings.csat_min_interval, settings.nps_period) == (timedelta(hours=24), timedelta(days=90))
    assert settings.smtp.host is None and settings.outbox == tmp_path / "outbox"
    assert settings.secret() == settings.secret() and len(settings.secret()) == 64  # kept in the data folder
    assert (tmp_path / "crm_secret").stat().st_mode & 0o777 == 0o600


def test_what_the_environment_sets() -> None:
    settings = Settings.from_env(
        {
            "HEARTH_ENV": " Production ",
            "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/",
            "SMTP_HOST": "mail.example.com",
            "SMTP_PORT": "587",
            "SMTP_STARTTLS": "yes",
            "CSAT_MIN_HOURS": "1.5",
            "CONSOLE_SECURE_COOKIES": "true",
            "CRM_SECRET": "s" * 40,
        }
    )
    assert settings.production and settings.history_source == "rabbitmq" and settings.code_sender == "smtp"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.starttls) == ("mail.example.com", 587, True)
    assert settings.csat_min_interval == timedelta(hours=1.5) and settings.console_secure_cookies
    assert settings.secret() == "s" * 40


def test_the_console_cookies_are_secure_in_production_whatever_the_flag() -> None:
    assert not Settings.from_env({}).console_secure_cookies  # development over plain HTTP
    assert Settings.from_env({"CONSOLE_SECURE_COOKIES": "1"}).console_secure_cookies
    production = {"HEARTH_ENV": "production", "CRM_SECRET": "s" * 40}
    assert Settings.from_env(production).console_secure_cookies
    assert Settings.from_env(production | {"CONSOLE_SECURE_COOKIES": "0"}).console_secure_cookies


def test_the_helpdesk_settings_from_the_environment() -> None:
    assert Container(Settings.from_env({})).helpdesk == HelpdeskSettings(None, None, 5.0, 6)
    assert Settings.from_env({"HELPDESK_WEBHOOK_URL": "  "}).helpdesk.url is None
    full = Settings.from_env(
        {
            "HELPDESK_WEBHOOK_URL": "https://desk.example.com/hooks/hearth?team=2",
            "HELPDESK_WEBHOOK_SECRET": "k",
            "HELPDESK_TIMEOUT": "2.5",
            "HELPDESK_MAX_ATTEMPTS": "3",
        }
    )
    assert Container(full).helpdesk == HelpdeskSettings("https://desk.example.com/hooks/hearth?team=2", "k", 2.5, 3)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HELPDESK_WEBHOOK_URL": "ftp://desk.example.com/x"}, "must be an http:// or https:// URL"),
        ({"HELPDESK_WEBHOOK_URL": "desk.example.com/hooks"}, "must be an http:// or https:// URL"),
        ({"HELPDESK_WEBHOOK_URL": "https:///hooks"}, "with a host"),
        ({"HELPDESK_WEBHOOK_URL": "http://desk.example.com:port/x"}, "HELPDESK_WEBHOOK_URL is not a valid URL"),
        ({"HELPDESK_TIMEOUT": "soon"}, "HELPDESK_TIMEOUT must be a number of seconds, not 'soon'"),
        ({"HELPDESK_TIMEOUT": "0"}, "HELPDESK_TIMEOUT must be more than 0"),
        ({"HELPDESK_TIMEOUT": "600"}, "at most 60 seconds"),
        ({"HELPDESK_MAX_ATTEMPTS": "2.5"}, "HELPDESK_MAX_ATTEMPTS must be a whole number"),
        ({"HELPDESK_MAX_ATTEMPTS": "0"}, "HELPDESK_MAX_ATTEMPTS must be at least 1"),
        ({"CRM_BACKEND": "oracle"}, "CRM_BACKEND must be 'sql' or 'http', not 'oracle'"),
        ({"CRM_BACKEND": "http"}, "CRM_BACKEND=http needs CRM_HTTP_BASE_URL"),
        ({"CODE_SENDER": "smtp"}, "CODE_SENDER must be 'log', or 'smtp' with SMTP_HOST set"),
        ({"CODE_SENDER": "pigeon"}, "CODE_SENDER must be 'smtp' or 'log', not 'pigeon'"),
        ({"HISTORY_SOURCE": "kafka"}, "HISTORY_SOURCE must be 'tracker' or 'rabbitmq', not 'kafka'"),
        ({"CRM_HTTP_TIMEOUT": "fast"}, "CRM_HTTP_TIMEOUT must be a number, not 'fast'"),
        ({"SMTP_PORT": "25.5"}, "SMTP_PORT must be a whole number, not '25.5'"),
        ({"NPS_PERIOD_DAYS": "quarterly"}, "NPS_PERIOD_DAYS must be a number, not 'quarterly'"),
        ({"WEB_IDENTITY_TTL_SECONDS": "1h"}, "WEB_IDENTITY_TTL_SECONDS must be a whole number, not '1h'"),
    ],
)
def test_a_malformed_variable_is_refused_with_its_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("?", r"\?")):
        Settings.from_env(env)


PRODUCTION = {
    "HEARTH_ENV": "production",
    "WEB_IDENTITY_SECRET": "w" * 40,
    "RASA_API_TOKEN": "r" * 40,
    "ACTION_SERVER_TOKEN": "a" * 40,
    "CRM_SECRET": "c" * 40,
    "TRACKER_DB_URL": "postgresql://hearth@db/tracker",
    "CRM_DATABASE_URL": "postgresql://hearth@db/crm",
    "SMTP_HOST": "mail.example.com",
}


def test_production_on_one_machine() -> None:
    assert machine_problems(PRODUCTION) == []
    assert machine_problems({**PRODUCTION, "CRM_DATABASE_URL": "sqlite:////tmp/crm.db"}) == [
        "CRM_DATABASE_URL is a SQLite file: use PostgreSQL"
    ]
    assert machine_problems(PRODUCTION, rasa_replicas=2) == [
        "REDIS_URL is not set: several Rasa servers must lock conversations in Redis"
    ]
    assert machine_problems({**PRODUCTION, "HISTORY_IDLE_MINUTES": "an hour"}) == [
        "HISTORY_IDLE_MINUTES must be a number, not 'an hour'"
    ]


def test_production_needs_a_rasa_api_key_of_32_characters_or_more() -> None:
    """RASA_API_TOKEN is the HS256 key the console signs the Rasa server's API tokens with (security finding 10)."""
    short = {**PRODUCTION, "RASA_API_TOKEN": "r" * 31}
    message = "RASA_API_TOKEN must be at least 32 characters in production, not 31"
    with pytest.raises(ValueError, match=message):
        Settings.from_env(short)
    assert machine_problems(short)[0].startswith(message)
    containers = {**short, "RASA_URL": "http://rasa:5005", "ACTION_ENDPOINT_URL": "http://actions:5055/webhook"}
    for role in ("rasa", "console"):
        (problem,) = role_problems(role, containers)
        assert problem.startswith(message), role
    assert Settings.from_env({**PRODUCTION, "RASA_API_TOKEN": "r" * 32}).rasa_api_token == "r" * 32
    assert Settings.from_env({"RASA_API_TOKEN": "short"}).rasa_api_token == "short"  # development: any


def test_a_container_role_is_refused_a_malformed_variable_too() -> None:
    assert role_problems("actions", PRODUCTION) == []
    assert role_problems("actions", {**PRODUCTION, "HELPDESK_TIMEOUT": "0"}) == [
        "HELPDESK_TIMEOUT must be more than 0 and at most 60 seconds, not 0"
    ]


def test_one_engine_per_database_in_a_process(tmp_path: Path) -> None:
    box = Container(Settings.from_env({"HEARTH_DATA_DIR": str(tmp_path)}))
    assert box.crm._sessions is box.sessions  # type: ignore[attr-defined]
    assert box.handoffs._sessions is box.sessions and box.agents._sessions is box.sessions  # type: ignore[attr-defined]
    assert box.analytics._sessions is box.sessions  # type: ignore[attr-defined]
    assert box.sessions.kw["bind"] is box.engine
    assert box.crm is box.crm and box.handoff_desk is box.handoff_desk


def test_an_external_crm_gets_explicit_stand_ins(tmp_path: Path) -> None:
    from handoff.desk import CallbackDesk
    from history.unavailable import ExternalCrmHistory, HistoryUnavailable
    from relationship.unavailable import ExternalCrmRelationship

    box = Container(
        Settings.from_env(
            {"CRM_BACKEND": "http", "CRM_HTTP_BASE_URL": "http://crm.example", "HEARTH_DATA_DIR": str(tmp_path)}
        )
    )
    assert isinstance(box.relationship, ExternalCrmRelationship) and isinstance(box.handoff_desk, CallbackDesk)
    assert isinstance(box.history, ExternalCrmHistory)
    with pytest.raises(HistoryUnavailable, match="keeps no relationship history"):
        box.history.timeline("cus_1")
