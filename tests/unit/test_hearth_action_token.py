"""The launcher's ACTION_SERVER_TOKEN: made once per data folder in development, the production one kept, and
named (never written) in the endpoints file the Rasa server gets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from hearth.environment import environment
from tests.unit.test_hearth_credentials import ROOT

pytestmark = pytest.mark.unit


def action_endpoint(path: str) -> dict:
    return YAML(typ="safe").load(Path(path).read_text())["action_endpoint"]


def test_development_gets_a_random_token_kept_in_the_data_folder(tmp_path: Path) -> None:
    env = environment({"PATH": "/usr/bin", "HEARTH_DATA_DIR": str(tmp_path)})
    token = env["ACTION_SERVER_TOKEN"]
    kept = tmp_path / "action_server_token"
    assert len(token) == 64 and kept.read_text() == token
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    again = environment({"PATH": "/usr/bin", "HEARTH_DATA_DIR": str(tmp_path)})
    assert again["ACTION_SERVER_TOKEN"] == token  # the Rasa server and the action server get the same one
    other = environment({"PATH": "/usr/bin", "HEARTH_DATA_DIR": str(tmp_path / "other")})
    assert other["ACTION_SERVER_TOKEN"] != token


def test_a_token_set_in_the_environment_wins(tmp_path: Path) -> None:
    production = "p" * 48
    env = environment({"PATH": "/usr/bin", "HEARTH_DATA_DIR": str(tmp_path), "ACTION_SERVER_TOKEN": production})
    assert env["ACTION_SERVER_TOKEN"] == production
    assert not (tmp_path / "action_server_token").exists()


@pytest.mark.parametrize("rabbitmq", [None, "amqp://user:pw@mq.example.com:5672/"])
def test_the_endpoints_file_sends_the_token_in_a_header_by_variable_name(tmp_path: Path, rabbitmq: str | None) -> None:
    base = {"PATH": "/usr/bin", "HEARTH_DATA_DIR": str(tmp_path), **({"RABBITMQ_URL": rabbitmq} if rabbitmq else {})}
    env = environment(base)
    path = env["HEARTH_ENDPOINTS"]
    assert Path(path) == (tmp_path / "endpoints.yml" if rabbitmq else ROOT / "bot" / "endpoints.yml")
    endpoint = action_endpoint(path)
    assert endpoint["url"] == "${ACTION_ENDPOINT_URL}"
    assert endpoint["headers"] == {"Authorization": "Bearer ${ACTION_SERVER_TOKEN}"}
    assert "token" not in endpoint and "params" not in endpoint  # not in the URL, where access logs keep it
    assert env["ACTION_SERVER_TOKEN"] not in Path(path).read_text()


def test_the_run_command_starts_the_action_server_that_checks_the_token() -> None:
    [line] = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("actions:")]
    assert " -m actions.serve " in line and "rasa_sdk" not in line
