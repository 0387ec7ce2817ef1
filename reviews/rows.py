"""The reviews' table, on the CRM database's one metadata (crm_adapter.sql.models.Base); migration 0016 creates it.
A review goes with its customer and its order (ON DELETE CASCADE): erasing the customer erases their reviews."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm_adapter.sql.models import Base, _ts


class ReviewRow(Base):
    __tablename__ = "product_reviews"
    __table_args__ = (
        UniqueConstraint("customer_id", "sku", name="uq_product_reviews_customer_sku"),
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_1_to_5"),
        Index("ix_product_reviews_sku_published", "sku", "published"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(String(24))
    product_name: Mapped[str] = mapped_column(String(120))
    stars: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    published: Mapped[bool] = mapped_column(Boolean)  # shown on the website, with first name and last initial
    created_at: Mapped[datetime] = _ts()
    updated_at: Mapped[datetime] = _ts()
