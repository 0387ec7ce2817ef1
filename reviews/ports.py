"""The port of product reviews."""

from __future__ import annotations

from typing import Protocol

from reviews.rules import Product, ProductReviews, Review, ReviewableItem


class ReviewStore(Protocol):
    """Product reviews (`SqlReviewStore` in reviews/store.py on our own CRM database; `ExternalCrmReviews` in
    reviews/unavailable.py with an external CRM, which keeps none).

    Raises `NotFound` for an unknown customer, an order that is not theirs or an item not in it, and a product the
    shop never sold; `NotAllowed("not_delivered")` for an order not delivered; `InvalidInput("stars" | "text")`;
    `CrmUnavailable` when the store cannot be reached.
    """

    def reviewable_items(self, customer_id: str, limit: int = 10) -> list[ReviewableItem]:
        """Items of the customer's delivered orders, most recent order first, one per SKU."""
        ...

    def submit(self, customer_id: str, order_number: str, sku: str, stars: int, text: str, published: bool) -> Review:
        """Keep the customer's review of an item of their delivered order; it replaces their earlier one of it."""
        ...

    def reviews_of(self, customer_id: str) -> list[Review]:
        """The customer's reviews, oldest first."""
        ...

    def product(self, sku: str) -> ProductReviews:
        """A product's name and published reviews, newest first."""
        ...

    def catalogue(self, limit: int = 12) -> list[Product]:
        """Products the shop sells (the items of its orders), by SKU."""
        ...
