"""The help centre's tables, on the CRM database's one metadata (crm_adapter.sql.models.Base); migration 0018 creates
them. The database is the source of truth: each process's search index is built from these rows and rebuilt when
`knowledge_state.revision` moves."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base, _ts


class ArticleRow(Base):
    __tablename__ = "knowledge_articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(160))
    summary: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON)
    tags: Mapped[list[str]] = mapped_column(JSON)
    faq: Mapped[list[str]] = mapped_column(JSON)  # the scripted FAQ answers (faq/<key>) this article gives
    questions: Mapped[list[str]] = mapped_column(JSON)  # customers' ways of asking what it answers
    last_reviewed: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))  # published | draft | unpublished
    source: Mapped[str] = mapped_column(String(12))  # file | console | agent (a draft from a resolved handoff)
    proposed_from: Mapped[str | None] = mapped_column(String(255))  # the conversation an agent's draft came from
    updated_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()


class PassageRow(Base):
    """A quotable piece of a published article with its embedding (float32, 384 values) and what made it."""

    __tablename__ = "knowledge_passages"
    __table_args__ = (UniqueConstraint("article_id", "position", name="uq_knowledge_passages_article_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # summary | section | question (matched, never quoted)
    heading: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    text_sha: Mapped[str] = mapped_column(String(64), index=True)  # of the text the embedding was made from
    encoder: Mapped[str] = mapped_column(String(64))  # knowledge.encoder.ENCODER_FINGERPRINT
    embedding: Mapped[bytes] = mapped_column(LargeBinary)


class KnowledgeStateRow(Base):
    """One row: the help centre's revision, moved by every change that the search must see."""

    __tablename__ = "knowledge_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the published passages and the encoder
    updated_at: Mapped[datetime] = _ts()


class QuestionRow(Base):
    """A question the bot tried to answer from the help centre, what it answered and whether that helped. Goes
    with its customer on erasure (ON DELETE CASCADE); an anonymous visitor's has no customer."""

    __tablename__ = "knowledge_questions"
    __table_args__ = (Index("ix_knowledge_questions_created", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = _ts()
    sender_id: Mapped[str] = mapped_column(String(255), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    via: Mapped[str] = mapped_column(String(12))  # faq (the scripted FAQ's pick) | search
    answered: Mapped[bool] = mapped_column(Boolean)
    slug: Mapped[str | None] = mapped_column(String(80))  # the article answered from (or the best, unanswered)
    score: Mapped[float] = mapped_column(Float)
    helpful: Mapped[bool | None] = mapped_column(Boolean)  # the customer's "did that answer your question?"
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)  # a person was asked for after it
