"""The launcher's credentials file (hearth/rasa_config.py): messaging channels switched on by their variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from hearth.rasa_config import credentials_file

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

TELEGRAM = {
    "TELEGRAM_TOKEN": "123456789:AAHsecretTelegramToken",
    "TELEGRAM_BOT_NAME": "hearth_bot",
    "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/webhooks/telegram/webhook",
}


def sections(text: str) -> dict[str, dict[str, str]]:
    """The top-level keys of a flat credentials YAML file and their `key: value` lines."""
    out: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            name, _, rest = line.partition(":")
            current = out.setdefault(name, {})
            assert rest.strip() in ("", "{}"), line
        else:
            key, _, value = line.strip().partition(": ")
            current[key] = value
    return out


def test_without_channel_variables_the_bot_credentials_file_is_used_as_it_is(tmp_path: Path):
    path = credentials_file({"PATH": "/usr/bin", "SLACK_CHANNEL": "#support"}, tmp_path)
    assert Path(path) == ROOT / "bot" / "credentials.yml"
    assert list(tmp_path.iterdir()) == []


def test_telegram_variables_switch_on_the_telegram_connector_by_variable_name(tmp_path: Path):
    path = Path(credentials_file(dict(TELEGRAM), tmp_path))
    assert path == tmp_path / "credentials.yml"
    text = path.read_text()
    written = sections(text)
    base = sections((ROOT / "bot" / "credentials.yml").read_text())
    assert {name: written[name] for name in base} == base  # REST and web chat stay on, unchanged
    assert written["bot.messaging.TelegramInput"] == {
        "access_token": "${TELEGRAM_TOKEN}",
        "verify": "${TELEGRAM_BOT_NAME}",
        "webhook_url": "${TELEGRAM_WEBHOOK_URL}",
    }
    assert set(written) == set(base) | {"bot.messaging.TelegramInput"}
    for secret in TELEGRAM.values():
        assert secret not in text  # Rasa reads the values from the environment


def test_optional_keys_are_written_only_when_their_variable_is_set(tmp_path: Path):
    env = {
        **TELEGRAM,
        "TELEGRAM_API_URL": "http://127.0.0.1:8081",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_NUMBER": "+441234567890",
        "TWILIO_API_URL": "",
    }
    written = sections(Path(credentials_file(env, tmp_path)).read_text())
    assert written["bot.messaging.TelegramInput"]["api_url"] == "${TELEGRAM_API_URL}"
    assert written["bot.messaging.TwilioInput"] == {
        "account_sid": "${TWILIO_ACCOUNT_SID}",
        "auth_token": "${TWILIO_AUTH_TOKEN}",
        "twilio_number": "${TWILIO_NUMBER}",
    }


@pytest.mark.parametrize("missing", sorted(TELEGRAM))
def test_a_partly_configured_channel_stops_the_launcher_naming_what_is_missing(tmp_path: Path, missing: str):
    env = {var: value for var, value in TELEGRAM.items() if var != missing}
    with pytest.raises(SystemExit) as stopped:
        credentials_file(env, tmp_path)
    message = str(stopped.value.code)
    assert "telegram" in message and missing in message
    assert not (tmp_path / "credentials.yml").exists()
