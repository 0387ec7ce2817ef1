"""Product reviews on the CRM database: the `ReviewStore` port (reviews/ports.py) over SQLAlchemy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from crm_adapter.domain import NotFound, OrderStatus
from crm_adapter.rules import utcnow
from crm_adapter.sql.db import unit_of_work
from crm_adapter.sql.lookups import customer_row, order_row
from crm_adapter.sql.models import CustomerRow, OrderItemRow, OrderRow
from reviews.rows import ReviewRow
from reviews.rules import (
    REVIEWABLE_ITEMS,
    Product,
    ProductReviews,
    PublishedReview,
    Review,
    ReviewableItem,
    check_reviewable,
    public_name,
    review_stars,
    review_text,
)


def to_review(row: ReviewRow, order_number: str, replaced: bool = False) -> Review:
    return Review(
        review_id=row.id,
        customer_id=row.customer_id,
        order_number=order_number,
        sku=row.sku,
        product_name=row.product_name,
        stars=row.stars,
        text=row.text,
        published=row.published,
        created_at=row.created_at,
        updated_at=row.updated_at,
        replaced=replaced,
    )


class SqlReviewStore:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self._sessions = sessions
        self._now = clock

    def reviewable_items(self, customer_id: str, limit: int = REVIEWABLE_ITEMS) -> list[ReviewableItem]:
        with unit_of_work(self._sessions) as s:
            customer_row(s, customer_id)
            orders = s.scalars(
                select(OrderRow)
                .where(OrderRow.customer_id == customer_id, OrderRow.status == OrderStatus.DELIVERED.value)
                .options(selectinload(OrderRow.items))
                .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())
            ).all()
            stars = {
                sku: n
                for sku, n in s.execute(
                    select(ReviewRow.sku, ReviewRow.stars).where(ReviewRow.customer_id == customer_id)
                )
            }
            items: dict[str, ReviewableItem] = {}
            for order in orders:
                for item in sorted(order.items, key=lambda i: i.id):
                    if item.sku not in items:
                        items[item.sku] = ReviewableItem(order.order_number, item.sku, item.name, stars.get(item.sku))
            return list(items.values())[: max(1, limit)]

    def submit(self, customer_id: str, order_number: str, sku: str, stars: int, text: str, published: bool) -> Review:
        stars, text = review_stars(stars), review_text(text)
        with unit_of_work(self._sessions) as s:
            order = order_row(s, customer_id, order_number)
            item = next((i for i in order.items if i.sku == sku.strip().upper()), None)
            if item is None:
                raise NotFound(f"item {sku} of order {order.order_number}")
            check_reviewable(order.order_number, OrderStatus(order.status))
            now = self._now()
            row = s.scalar(select(ReviewRow).where(ReviewRow.customer_id == customer_id, ReviewRow.sku == item.sku))
            replaced = row is not None
            if row is None:
                row = ReviewRow(customer_id=customer_id, sku=item.sku, created_at=now)
                s.add(row)
            row.order_id, row.product_name, row.stars, row.text = order.id, item.name, stars, text
            row.published, row.updated_at = bool(published), now
            s.flush()
            return to_review(row, order.order_number, replaced)

    def reviews_of(self, customer_id: str) -> list[Review]:
        with unit_of_work(self._sessions) as s:
            customer_row(s, customer_id)
            rows = s.execute(
                select(ReviewRow, OrderRow.order_number)
                .join(OrderRow, OrderRow.id == ReviewRow.order_id)
                .where(ReviewRow.customer_id == customer_id)
                .order_by(ReviewRow.created_at, ReviewRow.id)
            )
            return [to_review(row, number) for row, number in rows]

    def product(self, sku: str) -> ProductReviews:
        sku = sku.strip().upper()
        with unit_of_work(self._sessions) as s:
            name = s.scalar(select(func.min(OrderItemRow.name)).where(OrderItemRow.sku == sku))
            if name is None:
                raise NotFound(f"product {sku}")
            rows = s.execute(
                select(ReviewRow, CustomerRow.first_name, CustomerRow.last_name)
                .join(CustomerRow, CustomerRow.id == ReviewRow.customer_id)
                .where(ReviewRow.sku == sku, ReviewRow.published.is_(True))
                .order_by(ReviewRow.updated_at.desc(), ReviewRow.id.desc())
            )
            reviews = tuple(
                PublishedReview(public_name(first, last), row.stars, row.text, row.updated_at)
                for row, first, last in rows
            )
            return ProductReviews(sku, name, reviews)

    def catalogue(self, limit: int = 12) -> list[Product]:
        with unit_of_work(self._sessions) as s:
            rows = s.execute(
                select(OrderItemRow.sku, func.min(OrderItemRow.name))
                .group_by(OrderItemRow.sku)
                .order_by(OrderItemRow.sku)
                .limit(max(1, limit))
            )
            return [Product(sku, name) for sku, name in rows]
