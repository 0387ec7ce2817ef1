"""The reviews port when the CRM is an external one (CRM_BACKEND=http): it keeps no product reviews, and says so."""

from __future__ import annotations

from typing import NoReturn

from crm_adapter.domain import NotAllowed
from reviews.rules import Product, ProductReviews, Review, ReviewableItem


class ReviewsUnavailable(NotAllowed):
    def __init__(self) -> None:
        super().__init__("reviews_unsupported", "This CRM backend keeps no product reviews.")


class ExternalCrmReviews:
    """A `ReviewStore` that keeps nothing: every call raises ReviewsUnavailable (the catalogue is empty)."""

    @staticmethod
    def _not_kept() -> NoReturn:
        raise ReviewsUnavailable()

    def reviewable_items(self, customer_id: str, limit: int = 10) -> list[ReviewableItem]:
        self._not_kept()

    def submit(self, customer_id: str, order_number: str, sku: str, stars: int, text: str, published: bool) -> Review:
        self._not_kept()

    def reviews_of(self, customer_id: str) -> list[Review]:
        self._not_kept()

    def product(self, sku: str) -> ProductReviews:
        self._not_kept()

    def catalogue(self, limit: int = 12) -> list[Product]:
        return []
