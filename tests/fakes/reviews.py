"""`ReviewStore` in memory: the SQL store's observable behaviour (reviews/store.py) on plain records, next to the
`MemoryCrmStore` whose customers and orders it reads and which keeps its records (`store.reviews`), so erasure in
the in-memory relationship removes them. The rules come from reviews/rules.py, as the SQL store's do. The contract
suite (tests/integration/test_reviews_contract.py) holds it to the same tests as the SQL store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from crm_adapter.domain import InvalidInput, NotFound, OrderStatus
from crm_adapter.rules import utcnow
from crm_adapter.validation import normalize_order_number
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
from tests.fakes.crm import MemoryCrmStore, OrderRecord


@dataclass
class ReviewRecord:
    id: int
    customer_id: str
    order_id: int
    sku: str
    product_name: str
    stars: int
    text: str
    published: bool
    created_at: datetime
    updated_at: datetime


class MemoryReviewStore:
    def __init__(self, store: MemoryCrmStore, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self._now = clock

    def _customer(self, customer_id: str) -> None:
        if customer_id not in self.store.customers:
            raise NotFound(f"customer {customer_id}")

    def _order(self, customer_id: str, order_number: str) -> OrderRecord:
        try:
            number = normalize_order_number(order_number)
        except InvalidInput:
            raise NotFound(f"order {order_number}") from None
        for record in self.store.orders.values():
            if record.order_number == number and record.customer_id == customer_id:
                return record
        raise NotFound(f"order {number}")

    def _mine(self, customer_id: str) -> list[ReviewRecord]:
        return [r for r in self.store.reviews if r.customer_id == customer_id]

    def _review(self, record: ReviewRecord, replaced: bool = False) -> Review:
        order = self.store.orders[record.order_id]
        return Review(
            record.id, record.customer_id, order.order_number, record.sku, record.product_name, record.stars,
            record.text, record.published, record.created_at, record.updated_at, replaced,
        )  # fmt: skip

    def reviewable_items(self, customer_id: str, limit: int = REVIEWABLE_ITEMS) -> list[ReviewableItem]:
        self.store.reach()
        self._customer(customer_id)
        orders = sorted(
            (
                o
                for o in self.store.orders.values()
                if o.customer_id == customer_id and o.status == OrderStatus.DELIVERED.value
            ),
            key=lambda o: (o.placed_at, o.id),
            reverse=True,
        )
        stars = {r.sku: r.stars for r in self._mine(customer_id)}
        items: dict[str, ReviewableItem] = {}
        for order in orders:
            for line in order.lines:
                if line.sku not in items:
                    items[line.sku] = ReviewableItem(order.order_number, line.sku, line.name, stars.get(line.sku))
        return list(items.values())[: max(1, limit)]

    def submit(self, customer_id: str, order_number: str, sku: str, stars: int, text: str, published: bool) -> Review:
        stars, text = review_stars(stars), review_text(text)
        self.store.reach()
        order = self._order(customer_id, order_number)
        line = next((line for line in order.lines if line.sku == sku.strip().upper()), None)
        if line is None:
            raise NotFound(f"item {sku} of order {order.order_number}")
        check_reviewable(order.order_number, OrderStatus(order.status))
        now = self._now()
        record = next((r for r in self._mine(customer_id) if r.sku == line.sku), None)
        replaced = record is not None
        if record is None:
            record = ReviewRecord(self.store.next_id(), customer_id, order.id, line.sku, "", 0, "", False, now, now)
            self.store.reviews.append(record)
        record.order_id, record.product_name, record.stars, record.text = order.id, line.name, stars, text
        record.published, record.updated_at = bool(published), now
        return self._review(record, replaced)

    def reviews_of(self, customer_id: str) -> list[Review]:
        self.store.reach()
        self._customer(customer_id)
        return [self._review(r) for r in sorted(self._mine(customer_id), key=lambda r: (r.created_at, r.id))]

    def product(self, sku: str) -> ProductReviews:
        self.store.reach()
        sku = sku.strip().upper()
        name = min((line.name for o in self.store.orders.values() for line in o.lines if line.sku == sku), default=None)
        if name is None:
            raise NotFound(f"product {sku}")
        published = sorted(
            (r for r in self.store.reviews if r.sku == sku and r.published),
            key=lambda r: (r.updated_at, r.id),
            reverse=True,
        )
        customers = self.store.customers
        return ProductReviews(
            sku,
            name,
            tuple(
                PublishedReview(
                    public_name(customers[r.customer_id].first_name, customers[r.customer_id].last_name),
                    r.stars,
                    r.text,
                    r.updated_at,
                )
                for r in published
            ),
        )

    def catalogue(self, limit: int = 12) -> list[Product]:
        self.store.reach()
        names: dict[str, str] = {}
        for order in self.store.orders.values():
            for line in order.lines:
                names[line.sku] = min(names.get(line.sku, line.name), line.name)
        return [Product(sku, names[sku]) for sku in sorted(names)][: max(1, limit)]
