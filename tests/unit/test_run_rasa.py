"""bot/run_rasa.py: the flags it adds to `rasa run` inside the process, where no command line shows them."""

from __future__ import annotations

import pytest

from bot.run_rasa import arguments

pytestmark = pytest.mark.unit

KEY = "k" * 64
BASE = ["run_rasa.py", "run", "--model", "m.tar.gz", "--enable-api"]


def test_the_key_becomes_rasas_hs256_jwt_secret_never_an_auth_token():
    argv = arguments(BASE, {"RASA_API_TOKEN": KEY})
    assert argv[: len(BASE)] == BASE
    added = argv[len(BASE) :]
    assert added[added.index("--jwt-secret") + 1] == KEY
    assert added[added.index("--jwt-method") + 1] == "HS256"
    assert "--auth-token" not in argv  # Rasa's --auth-token is checked in the query string: URLs, access logs


def test_without_a_key_no_jwt_flags():
    assert "--jwt-secret" not in arguments(BASE, {})


@pytest.mark.parametrize(
    "flag", [["--auth-token", "t"], ["--jwt-secret", "s"], ["--jwt-secret=s"], ["--jwt-method", "none"]]
)
def test_a_key_or_method_on_the_command_line_is_refused(flag: list[str]):
    with pytest.raises(SystemExit, match="RASA_API_TOKEN, not on the command line"):
        arguments([*BASE, *flag], {"RASA_API_TOKEN": KEY})


def test_interface_and_cors_as_before():
    argv = arguments(BASE, {"BIND_ADDRESS": "10.0.0.5", "WEB_CHAT_ORIGINS": "https://shop.example.com"})
    assert argv[argv.index("--interface") + 1] == "10.0.0.5"
    assert argv[argv.index("--cors") + 1 :] == ["https://shop.example.com"]
    assert arguments([*BASE, "-i", "0.0.0.0"], {}).count("--interface") == 0
    assert arguments(BASE, {})[-2:] == ["--interface", "127.0.0.1"]
    with pytest.raises(SystemExit, match="not with --cors"):
        arguments([*BASE, "--cors", "*"], {})
