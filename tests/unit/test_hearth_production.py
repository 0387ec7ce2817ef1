"""The launcher in production (hearth/production.py): secrets only from the environment, the broker and lock
store sections, and several Rasa and action servers behind nginx."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from hearth import ROOT
from hearth.environment import environment

pytestmark = pytest.mark.unit

SECRETS = {
    "WEB_IDENTITY_SECRET": "w" * 64,
    "RASA_API_TOKEN": "r" * 64,
    "ACTION_SERVER_TOKEN": "a" * 64,
    "CRM_SECRET": "c" * 64,
    "TRACKER_DB_URL": "postgresql://rasa:pw@db.internal:5432/tracker",
    "CRM_DATABASE_URL": "postgresql+psycopg2://crm:pw@db.internal:5432/crm",
    "CODE_SENDER": "log",
}


def test_production_names_every_missing_secret_and_makes_none(tmp_path: Path):
    with pytest.raises(SystemExit) as stopped:
        environment({"HEARTH_ENV": "production", "HEARTH_DATA_DIR": str(tmp_path / "data")})
    message = str(stopped.value)
    for name in ("WEB_IDENTITY_SECRET", "RASA_API_TOKEN", "ACTION_SERVER_TOKEN", "CRM_SECRET", "TRACKER_DB_URL"):
        assert f"{name} is not set" in message
    assert "SMTP_HOST is not set" in message
    assert not (tmp_path / "data").exists()  # nothing written, no development secret made


def test_production_refuses_sqlite_and_several_rasa_servers_without_redis(tmp_path: Path):
    env = {**SECRETS, "HEARTH_ENV": "production", "HEARTH_DATA_DIR": str(tmp_path)}
    with pytest.raises(SystemExit) as stopped:
        environment({**env, "CRM_DATABASE_URL": "sqlite:////tmp/crm.db", "RASA_REPLICAS": "2"})
    assert "CRM_DATABASE_URL is a SQLite file" in str(stopped.value)
    assert "REDIS_URL is not set" in str(stopped.value)
    prepared = environment(env)  # everything given: it starts, with exactly the given secrets
    assert all(prepared[k] == v for k, v in SECRETS.items())
    assert not any(p.name.endswith(("_secret", "_token")) for p in tmp_path.iterdir())
    assert "REST_CLIENTS" not in prepared  # only the integrations the operator names may post to REST
    # development (no HEARTH_ENV) still makes its own, and listens on the loopback address only
    dev = environment({"HEARTH_DATA_DIR": str(tmp_path / "dev")})
    assert dev["RASA_API_TOKEN"] and dev["BIND_ADDRESS"] == "127.0.0.1"
    token = (tmp_path / "dev" / "rest_client_token").read_text().strip()
    assert dev["REST_CLIENTS"] == f"dev:{token}:vouches" and len(token) >= 32
    assert dev["WEB_CHAT_ORIGINS"] == f"http://127.0.0.1:{dev['WEBSITE_PORT']},http://localhost:{dev['WEBSITE_PORT']}"


def test_broker_keeps_tls_and_virtual_host_and_the_lock_store_comes_from_redis_url(tmp_path: Path):
    env = environment(
        {
            "HEARTH_DATA_DIR": str(tmp_path),
            "RABBITMQ_URL": "amqps://hearth:rabbit%21pw@mq.internal/prod",
            "REDIS_URL": "rediss://:redis-pw@redis.internal:6380/3",
        }
    )
    endpoints = Path(env["HEARTH_ENDPOINTS"])
    text = endpoints.read_text()
    assert not any(value in text for value in ("rabbit!pw", "rabbit%21pw", "mq.internal", "redis-pw", "redis.internal"))
    document = YAML(typ="safe").load(text)
    assert document["event_broker"]["url"] == "${RABBITMQ_HOST}" and document["lock_store"]["db"] == 3
    assert env["RABBITMQ_HOST"] == "amqps://mq.internal/prod" and env["RABBITMQ_PORT"] == "5671"
    assert env["RABBITMQ_PASSWORD"] == "rabbit!pw" and env["REDIS_PASSWORD"] == "redis-pw"
    assert document["lock_store"]["use_ssl"] is True and env["TICKET_LOCK_LIFETIME"] == "15"


def test_one_of_each_uses_the_repository_procfile(tmp_path: Path):
    env = environment({"HEARTH_DATA_DIR": str(tmp_path)})
    assert Path(env["HEARTH_PROCFILE"]) == ROOT / "Procfile"


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx not installed")
def test_replicas_run_under_restart_loops_behind_a_valid_nginx_configuration(tmp_path: Path):
    env = environment(
        {
            "HEARTH_DATA_DIR": str(tmp_path),
            "RASA_PORT": "6005",
            "ACTION_PORT": "6055",
            "RASA_REPLICAS": "2",
            "ACTION_REPLICAS": "3",
            "RASA_REPLICA_PORTS": "6101,6102",
        }
    )
    procfile = Path(env["HEARTH_PROCFILE"]).read_text()
    names = [line.split(":", 1)[0] for line in procfile.splitlines()]
    assert names == ["rasa1", "rasa2", "actions1", "actions2", "actions3", "history", "website", "console", "ready"] + [
        "balancer"
    ]
    assert "export RASA_PORT=6102; while true; do .venvs/rasa/bin/python -m bot.run_rasa run" in procfile
    assert "export ACTION_PORT=6058; while true; do .venvs/app/bin/python -m actions.serve" in procfile
    conf = tmp_path / "nginx" / "nginx.conf"
    for port in (6101, 6102, 6056, 6057, 6058):
        assert f"server 127.0.0.1:{port} " in conf.read_text()
    assert "listen 127.0.0.1:6005;" in conf.read_text() and "listen 127.0.0.1:6055;" in conf.read_text()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(
        [nginx, "-t", "-p", str(conf.parent), "-c", str(conf), "-e", "stderr"], capture_output=True
    )
    assert checked.returncode == 0, checked.stderr.decode()
    with pytest.raises(SystemExit):
        environment({**env, "RASA_REPLICA_PORTS": "6101"})  # two servers, one port


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()), reason="nginx not installed")
def test_a_single_action_server_behind_nginx_gets_a_port_of_its_own(tmp_path: Path):
    """Two Rasa servers and one action server: nginx listens on ACTION_PORT, so the action server must not (it
    could not start, and nginx would pass action calls to itself until it ran out of connections)."""
    env = environment(
        {"HEARTH_DATA_DIR": str(tmp_path), "RASA_PORT": "6005", "ACTION_PORT": "6055", "RASA_REPLICAS": "2"}
    )
    procfile = Path(env["HEARTH_PROCFILE"]).read_text()
    assert "actions1: export ACTION_PORT=6056; while true; do .venvs/app/bin/python -m actions.serve" in procfile
    conf = (tmp_path / "nginx" / "nginx.conf").read_text()
    assert "server 127.0.0.1:6056 " in conf and "server 127.0.0.1:6055 " not in conf
    assert "listen 127.0.0.1:6055;" in conf
