"""SQLAlchemy 2.x typed models of the CRM store. Schema changes go through Alembic only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _ts() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=False), nullable=False)


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(300))
    loyalty_points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
    # Advocacy: who recommended this customer to us (their referral counts towards the recommender's value).
    referred_by: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    # When the bot last asked for a rating or a recommendation score, or proposed contact preferences
    # (the frequency rules in relationship/survey_store.py and preference_store.py read these).
    csat_asked_at: Mapped[datetime | None] = mapped_column(DateTime)
    nps_asked_at: Mapped[datetime | None] = mapped_column(DateTime)
    preferences_proposed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The value score and tier as last computed for everyone (relationship.value_store.refresh_values);
    # the profile always computes them afresh.
    value_score: Mapped[float | None] = mapped_column(Float)
    value_tier: Mapped[str | None] = mapped_column(String(12), index=True)
    value_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The salted scrypt hash of the customer's password on the shop's demo website (shared/passwords.py);
    # None: the customer cannot sign in there.
    website_password_hash: Mapped[str | None] = mapped_column(String(200))

    orders: Mapped[list[OrderRow]] = relationship(back_populates="customer")


class ChannelIdentityRow(Base):
    """A channel account (channel + sender id) proven to belong to a customer."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "sender_id", name="uq_channel_identities_channel_sender"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    sender_id: Mapped[str] = mapped_column(String(255))
    verified_at: Mapped[datetime] = _ts()
    last_seen_at: Mapped[datetime] = _ts()


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_placed", "customer_id", "placed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_number: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))
    placed_at: Mapped[datetime] = _ts()
    expected_delivery: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    total_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    carrier: Mapped[str | None] = mapped_column(String(40))
    tracking_number: Mapped[str | None] = mapped_column(String(40))
    # Where this order goes when the customer changed it for this order only (else the address on file).
    delivery_address: Mapped[str | None] = mapped_column(String(300))

    customer: Mapped[CustomerRow] = relationship(back_populates="orders")
    items: Mapped[list[OrderItemRow]] = relationship(
        back_populates="order", order_by="OrderItemRow.id", cascade="all, delete-orphan"
    )


class OrderItemRow(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(120))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)

    order: Mapped[OrderRow] = relationship(back_populates="items")


class ReturnRow(Base):
    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rma_number: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(24))  # requested | received | refunded
    refund_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _ts()
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime)


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_customer_created", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(40))
    sender_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()

    order: Mapped[OrderRow | None] = relationship()


class OneTimeCodeRow(Base):
    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class OrderProofFailureRow(Base):
    """A wrong order number given with an address, whoever owns it (if anyone): the address is kept as a keyed hash
    (crm_adapter/rules.py, `address_key`). Too many within the window stop order numbers for that address and
    leave the one-time code emailed to it (MAX_ORDER_FAILURES)."""

    __tablename__ = "order_proof_failures"
    __table_args__ = (Index("ix_order_proof_failures_address_at", "address_key", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()


class WebsiteSessionRow(Base):
    """A sign-in on the shop's website: the site's cookie and the chat widget's identity tokens name it, and
    count only while it lasts. Signing out ends it (`ended_at`), so a token kept from before recognises nobody."""

    __tablename__ = "website_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebsiteAccountTokenRow(Base):
    """A single-use link emailed for the shop's website (crm_adapter/accounts.py): a password reset (`purpose`
    "reset", for `customer_id`) or a new account's confirmation ("register", holding the account asked for until it
    is confirmed, then cleared). Only the token's SHA-256 is kept. Every ask leaves a row, whether or not the address
    has an account, counted per purpose under the keyed hash of the address (`address_key`)."""

    __tablename__ = "website_account_tokens"
    __table_args__ = (Index("ix_website_account_tokens_address_at", "address_key", "purpose", "created_at"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(12))
    address_key: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class CodeRequestRow(Base):
    """A one-time code asked for: queued by the request alike whether or not the address is on file (the keyed hash
    of the address; the customer, if it is theirs), made and emailed by the worker (`code_delivery`), which stamps
    `handled_at`. Counted per address within the window (CODES_PER_WINDOW)."""

    __tablename__ = "code_requests"
    __table_args__ = (
        Index("ix_code_requests_address_at", "address_key", "created_at"),
        Index("ix_code_requests_pending", "handled_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address_key: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _ts()
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)


class EmailChangeRow(Base):
    """A change of the email address on file, waiting for the one-time code emailed to the new address
    (crm_adapter/contact_changes.py). The code is kept only as an HMAC. `used_at` is set when the change is
    applied or replaced by a newer one."""

    __tablename__ = "email_changes"
    __table_args__ = (Index("ix_email_changes_customer_at", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    new_email: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _ts()
    expires_at: Mapped[datetime] = _ts()
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
