"""Configuration from environment variables, with embedded defaults for one machine."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    backend: str  # "sql" | "http"
    database_url: str
    http_base_url: str | None
    http_token: str | None
    http_timeout: float
    code_sender: str  # "smtp" (email, when SMTP_HOST is set) | "log" (development: the code is logged)
    tracker_db_url: str  # Rasa's SQL tracker store, read by history ingestion
    rabbitmq_url: str | None
    history_source: str  # "tracker" | "rabbitmq"
    history_queue: str
    history_idle: timedelta  # a conversation idle this long has ended (Rasa's session expiry)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("HEARTH_DATA_DIR") or PROJECT_ROOT / "var").resolve()
        backend = env.get("CRM_BACKEND", "sql").strip().lower()
        if backend not in {"sql", "http"}:
            raise ValueError(f"CRM_BACKEND must be 'sql' or 'http', not {backend!r}")
        code_sender = (env.get("CODE_SENDER") or ("smtp" if env.get("SMTP_HOST") else "log")).strip().lower()
        if code_sender not in {"smtp", "log"} or (code_sender == "smtp" and not env.get("SMTP_HOST")):
            raise ValueError("CODE_SENDER must be 'log', or 'smtp' with SMTP_HOST set")
        if backend == "http" and not env.get("CRM_HTTP_BASE_URL"):
            raise ValueError("CRM_BACKEND=http needs CRM_HTTP_BASE_URL")
        return cls(
            data_dir=data_dir,
            backend=backend,
            database_url=env.get("CRM_DATABASE_URL") or f"sqlite:///{data_dir / 'crm.db'}",
            http_base_url=env.get("CRM_HTTP_BASE_URL"),
            http_token=env.get("CRM_HTTP_TOKEN"),
            http_timeout=float(env.get("CRM_HTTP_TIMEOUT", "5")),
            code_sender=code_sender,
            tracker_db_url=env.get("TRACKER_DB_URL") or f"sqlite:///{data_dir / 'tracker.db'}",
            rabbitmq_url=env.get("RABBITMQ_URL") or None,
            history_source=env.get("HISTORY_SOURCE") or ("rabbitmq" if env.get("RABBITMQ_URL") else "tracker"),
            history_queue=env.get("HISTORY_QUEUE", "hearth_history"),
            history_idle=timedelta(minutes=float(env.get("HISTORY_IDLE_MINUTES", "60"))),
        )

    def secret(self, env: Mapping[str, str] | None = None) -> str:
        """CRM_SECRET, or a random one kept in the (git-ignored) data folder for development."""
        env = os.environ if env is None else env
        if env.get("CRM_SECRET"):
            return env["CRM_SECRET"]
        path = self.data_dir / "crm_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return path.read_text().strip()
