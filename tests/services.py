"""Helpers that find the local PostgreSQL, Redis and RabbitMQ, or explain why a test is skipped."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def unavailable(service: str, reason: str) -> None:
    """Skip with the reason; in CI a missing service is a failure, not a skip."""
    message = f"{service} not reachable ({reason})"
    if IN_CI:
        pytest.fail(message + " — required in CI", pytrace=False)
    pytest.skip(message)


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database for one test session and drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"hearth_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        admin.dispose()
        unavailable("PostgreSQL", f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def rabbitmq_url() -> str:
    """The local RabbitMQ's URL, or skip (fail in CI) when it does not answer."""
    import pika

    try:
        params = pika.URLParameters(RABBITMQ_URL)
        params.socket_timeout = 3
        pika.BlockingConnection(params).close()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        unavailable("RabbitMQ", f"{type(exc).__name__}: {exc}")
    return RABBITMQ_URL


def delete_queue(url: str, queue: str) -> None:
    """Remove a queue a test declared (history ingestion's, named per test) from the local RabbitMQ."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_delete(queue)
    finally:
        connection.close()


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def redis_url() -> str:
    """The local Redis's URL, or skip (fail in CI) when it does not answer."""
    import socket
    from urllib.parse import urlsplit

    parsed = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=3) as s:
            s.sendall(b"PING\r\n")
            answer = s.recv(64)
        if not answer.startswith((b"+PONG", b"-NOAUTH")):
            raise ConnectionError(f"unexpected answer {answer!r}")
    except Exception as exc:  # noqa: BLE001 - any connection failure means "absent"
        unavailable("Redis", f"{type(exc).__name__}: {exc}")
    return REDIS_URL


def nginx_path() -> str:
    """Debian's nginx (scripts/test.sh installs it), or skip (fail in CI)."""
    import shutil

    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not found:
        unavailable("nginx", "not installed: apt-get install nginx")
    return str(found)
