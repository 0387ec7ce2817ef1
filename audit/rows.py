"""The audit log's table, on the CRM database's one metadata (crm_adapter.sql.models.Base); migration 0019 creates it.

An entry names who did what to which record, when and from which address. It holds no personal data of a
customer: the customer is named by their id, and a customer's erasure replaces that id with a keyed hash, so
the entry stays and can still be matched by someone who already knows the id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base, _ts


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = _ts()
    actor_id: Mapped[int | None] = mapped_column(Integer)  # the agent's id; no foreign key: entries outlive accounts
    actor: Mapped[str] = mapped_column(String(80))  # the agent's username then, or "command line"
    address: Mapped[str] = mapped_column(String(64))  # the client's address, or "local"
    action: Mapped[str] = mapped_column(String(40))  # e.g. customer.viewed, handoff.replied, article.published
    target_kind: Mapped[str] = mapped_column(String(24))  # customer | conversation | handoff | agent | article | ...
    target: Mapped[str] = mapped_column(String(120))  # the record's id, slug or username
    customer_id: Mapped[str | None] = mapped_column(String(32))  # whose data it touched; NULL after erasure
    erased_subject: Mapped[str | None] = mapped_column(String(64))  # the keyed hash of an erased customer's id
    detail: Mapped[str] = mapped_column(String(300))  # what changed, by field names and counts: no personal data

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_customer", "customer_id"),
        Index("ix_audit_log_actor", "actor"),
    )
