"""The agent workspace's tables, on the CRM database's one metadata (crm_adapter.sql.models.Base); migration 0020
creates them: the canned responses agents insert with `/` shortcuts, and the response targets (SLAs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base, _ts


class CannedResponseRow(Base):
    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    shortcut: Mapped[str] = mapped_column(String(30), unique=True)  # typed after "/" in the reply box
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)  # with placeholders such as {first_name}
    updated_by: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = _ts()


class ResponseTargetsRow(Base):
    """One row (id 1): the first-response and resolution targets, in minutes of opening hours."""

    __tablename__ = "response_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = _ts()
