"""One contract suite for the `ReviewStore` port (reviews/ports.py): the in-memory stand-in and the SQL store must
behave exactly alike, and so must what reviews change in the relationship (advocacy in the value score, the
export, erasure).

* ``memory``     MemoryReviewStore (tests/fakes/reviews.py) beside a MemoryRelationship; runs in the unit tier
* ``sqlite``     SqlReviewStore on a migrated SQLite file
* ``postgresql`` SqlReviewStore on PostgreSQL (skipped when no server is reachable, fails in CI)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from crm_adapter.domain import CrmUnavailable, InvalidInput, NotAllowed, NotFound
from crm_adapter.ports import RelationshipService
from crm_adapter.sql.db import make_engine, make_session_factory
from relationship.service import SqlRelationshipService
from reviews.ports import ReviewStore
from reviews.rules import Product, ReviewableItem
from reviews.store import SqlReviewStore
from reviews.unavailable import ExternalCrmReviews, ReviewsUnavailable
from tests.factories import NOW, Arrange, Clock, SqlArrange
from tests.fakes import MemoryArrange, MemoryCrmStore
from tests.fakes.relationship import MemoryRelationship, MemoryRelationshipStore
from tests.fakes.reviews import MemoryReviewStore

UNREACHABLE = "postgresql+psycopg2://hearth@127.0.0.1:1/hearth"  # nothing listens on port 1
TABLE = (("Oak side table", 1, 8900), ("Linen throw", 2, 5900))


@dataclass
class Backend:
    name: str
    reviews: ReviewStore
    relationship: RelationshipService
    arrange: Arrange
    clock: Clock


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        store, clock = MemoryCrmStore(), Clock()
        yield Backend(
            "memory",
            MemoryReviewStore(store, clock=clock),
            MemoryRelationship(MemoryRelationshipStore(store), clock=clock),
            MemoryArrange(store),
            clock,
        )
        return
    sql = request.getfixturevalue("sqlite_crm" if request.param == "sqlite" else "postgres_crm")
    yield Backend(
        request.param,
        SqlReviewStore(sql.sessions, clock=sql.clock),
        SqlRelationshipService(sql.sessions, clock=sql.clock),
        SqlArrange(sql.sessions),
        sql.clock,
    )


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("sql", marks=pytest.mark.integration),
    ]
)
def unreachable(request: pytest.FixtureRequest) -> Iterator[ReviewStore]:
    if request.param == "memory":
        store = MemoryCrmStore()
        MemoryArrange(store).add_customer()
        store.down = True
        yield MemoryReviewStore(store)
        return
    engine = make_engine(UNREACHABLE)
    yield SqlReviewStore(make_session_factory(engine))
    engine.dispose()


def omar(b: Backend) -> str:
    """A customer with a delivered order of two items, and one on its way."""
    cid = b.arrange.add_customer(first_name="Omar", last_name="haddad")
    b.arrange.add_order(cid, "JH800001", status="delivered", placed_days_ago=10, delivered_days_ago=6, items=TABLE)
    b.arrange.add_order(cid, "JH800002", status="shipped", placed_days_ago=2, items=TABLE[:1])
    return cid


# ---- what can be reviewed -------------------------------------------------------------------------------------


def test_only_items_of_delivered_orders_are_offered_newest_order_first_once_per_item(backend: Backend) -> None:
    cid = omar(backend)
    backend.arrange.add_order(
        cid, "JH800003", status="delivered", placed_days_ago=40, delivered_days_ago=35, items=(("Wool rug", 1, 9900),)
    )  # SKU0 again: the newer order's item is the one offered
    assert backend.reviews.reviewable_items(cid) == [
        ReviewableItem("JH800001", "SKU0", "Oak side table"),
        ReviewableItem("JH800001", "SKU1", "Linen throw"),
    ]
    assert backend.reviews.reviewable_items(cid, limit=1) == [ReviewableItem("JH800001", "SKU0", "Oak side table")]
    nobody_delivered = backend.arrange.add_customer()
    backend.arrange.add_order(nobody_delivered, "JH800004", status="placed")
    assert backend.reviews.reviewable_items(nobody_delivered) == []
    with pytest.raises(NotFound):
        backend.reviews.reviewable_items("cus_nobody")


def test_a_review_of_a_delivered_item_is_kept_and_offered_with_its_stars(backend: Backend) -> None:
    cid = omar(backend)
    review = backend.reviews.submit(cid, "jh 800001", "sku1", 4, "  Soft and\n   warm.  ", published=True)

    assert (review.order_number, review.sku, review.product_name, review.stars) == (
        "JH800001",
        "SKU1",
        "Linen throw",
        4,
    )
    assert (review.text, review.published, review.replaced) == ("Soft and\nwarm.", True, False)
    assert review.created_at == review.updated_at == NOW
    assert backend.reviews.reviews_of(cid) == [review]
    assert backend.reviews.reviewable_items(cid)[1] == ReviewableItem("JH800001", "SKU1", "Linen throw", 4)


def test_a_second_review_of_the_item_replaces_the_first(backend: Backend) -> None:
    cid = omar(backend)
    first = backend.reviews.submit(cid, "JH800001", "SKU0", 2, "Wobbly.", published=False)
    backend.clock.advance(days=1)
    second = backend.reviews.submit(cid, "JH800001", "SKU0", 5, "Fixed the leg: lovely now.", published=True)

    assert second.review_id == first.review_id and second.replaced
    assert (second.stars, second.text, second.published) == (5, "Fixed the leg: lovely now.", True)
    assert (second.created_at, second.updated_at) == (NOW, NOW + timedelta(days=1))
    assert [r.stars for r in backend.reviews.reviews_of(cid)] == [5]


@pytest.mark.parametrize(
    ("order", "sku", "error"),
    [
        ("JH800002", "SKU0", NotAllowed),  # on its way: not delivered yet
        ("JH800001", "SKU9", NotFound),  # not in the order
        ("JH899999", "SKU0", NotFound),  # no such order
        ("not an order", "SKU0", NotFound),
    ],
)
def test_only_an_item_of_the_customers_own_delivered_order_can_be_reviewed(
    backend: Backend, order: str, sku: str, error: type[Exception]
) -> None:
    cid = omar(backend)
    with pytest.raises(error) as raised:
        backend.reviews.submit(cid, order, sku, 4, "Nice.", published=True)
    if error is NotAllowed:
        assert raised.value.reason == "not_delivered"  # type: ignore[attr-defined]
    assert backend.reviews.reviews_of(cid) == []


def test_someone_elses_order_cannot_be_reviewed(backend: Backend) -> None:
    omar(backend)
    stranger = backend.arrange.add_customer()
    with pytest.raises(NotFound):
        backend.reviews.submit(stranger, "JH800001", "SKU0", 5, "Great table.", published=True)
    with pytest.raises(NotFound):
        backend.reviews.submit("cus_nobody", "JH800001", "SKU0", 5, "Great table.", published=True)


@pytest.mark.parametrize(
    ("stars", "text", "field", "says"),
    [
        (0, "Fine.", "stars", "1 to 5 stars"),
        (6, "Fine.", "stars", "1 to 5 stars"),
        ("lots", "Fine.", "stars", "1 to 5 stars"),
        (3, "", "text", "a few words"),
        (3, "  \n ", "text", "a few words"),
        (3, "x" * 2001, "text", "up to 2,000 characters; this one has 2,001"),
    ],
)
def test_stars_and_text_are_checked_with_a_clear_error(
    backend: Backend, stars: object, text: str, field: str, says: str
) -> None:
    cid = omar(backend)
    with pytest.raises(InvalidInput) as raised:
        backend.reviews.submit(cid, "JH800001", "SKU0", stars, text, published=True)  # type: ignore[arg-type]
    assert raised.value.field == field and says in str(raised.value)
    assert backend.reviews.reviews_of(cid) == []
    assert backend.reviews.submit(cid, "JH800001", "SKU0", 1, "x" * 2000, published=True).text == "x" * 2000


# ---- the product page -----------------------------------------------------------------------------------------


def test_a_product_shows_only_published_reviews_newest_first_with_first_name_and_initial(backend: Backend) -> None:
    cid = omar(backend)
    ida = backend.arrange.add_customer(first_name="Ida", last_name="Kowalski")
    backend.arrange.add_order(ida, "JH800010", status="delivered", delivered_days_ago=3, items=TABLE)
    kept = backend.arrange.add_customer(first_name="Private", last_name="Person")
    backend.arrange.add_order(kept, "JH800011", status="delivered", delivered_days_ago=3, items=TABLE)

    backend.reviews.submit(cid, "JH800001", "SKU0", 5, "Solid oak, <b>sturdy</b>.", published=True)
    backend.clock.advance(hours=1)
    backend.reviews.submit(ida, "JH800010", "SKU0", 4, "Good value.", published=True)
    backend.reviews.submit(kept, "JH800011", "SKU0", 1, "Only for the shop.", published=False)

    page = backend.reviews.product("sku0")
    assert (page.sku, page.name, page.count, page.average) == ("SKU0", "Oak side table", 2, 4.5)
    assert [(r.author, r.stars, r.text) for r in page.reviews] == [
        ("Ida K.", 4, "Good value."),
        ("Omar H.", 5, "Solid oak, <b>sturdy</b>."),
    ]
    unreviewed = backend.reviews.product("SKU1")
    assert (unreviewed.name, unreviewed.count, unreviewed.average, unreviewed.reviews) == ("Linen throw", 0, None, ())
    with pytest.raises(NotFound):
        backend.reviews.product("NOPE-1")


def test_the_catalogue_is_what_the_shop_sells(backend: Backend) -> None:
    omar(backend)
    assert backend.reviews.catalogue() == [Product("SKU0", "Oak side table"), Product("SKU1", "Linen throw")]
    assert len(backend.reviews.catalogue(limit=1)) == 1


# ---- in the relationship: advocacy, export, erasure ------------------------------------------------------------


def test_published_reviews_count_as_advocacy_with_a_reason(backend: Backend) -> None:
    cid = omar(backend)
    before = backend.relationship.profile(cid).value.part("advocacy")
    assert before.points == 0 and before.reasons == ("no feedback yet",)
    backend.reviews.submit(cid, "JH800001", "SKU0", 5, "Solid.", published=True)
    backend.reviews.submit(cid, "JH800001", "SKU1", 4, "Soft.", published=True)
    value = backend.relationship.profile(cid).value
    assert value.part("advocacy").points == 4.0 and "2 product reviews" in value.explanation
    backend.reviews.submit(cid, "JH800001", "SKU1", 4, "Soft, but keep it to yourselves.", published=False)
    value = backend.relationship.profile(cid).value
    assert value.part("advocacy").points == 2.0 and "1 product review" in value.explanation


def test_the_export_holds_the_customers_reviews_and_erasure_removes_them(backend: Backend) -> None:
    cid = omar(backend)
    other = backend.arrange.add_customer(first_name="Ida", last_name="Kowalski")
    backend.arrange.add_order(other, "JH800010", status="delivered", delivered_days_ago=3, items=TABLE)
    backend.reviews.submit(cid, "JH800001", "SKU0", 5, "Solid oak.", published=True)
    backend.reviews.submit(cid, "JH800001", "SKU1", 3, "Thin.", published=False)
    backend.reviews.submit(other, "JH800010", "SKU0", 4, "Good value.", published=True)

    exported = backend.relationship.export(cid)["reviews"]
    assert [
        (r["order_number"], r["sku"], r["product_name"], r["stars"], r["text"], r["published"]) for r in exported
    ] == [
        ("JH800001", "SKU0", "Oak side table", 5, "Solid oak.", True),
        ("JH800001", "SKU1", "Linen throw", 3, "Thin.", False),
    ]
    assert exported[0]["created_at"] == NOW.isoformat() + "Z"

    backend.relationship.request_erasure(cid)
    assert [r.author for r in backend.reviews.product("SKU0").reviews] == ["Ida K."]  # gone from the website
    with pytest.raises(NotFound):
        backend.reviews.reviews_of(cid)
    assert len(backend.reviews.reviews_of(other)) == 1


# ---- an unreachable database, an external CRM -----------------------------------------------------------------


def test_every_method_says_the_database_is_unavailable(unreachable: ReviewStore) -> None:
    calls = [
        lambda: unreachable.reviewable_items("cus_x"),
        lambda: unreachable.submit("cus_x", "JH800001", "SKU0", 4, "Nice.", True),
        lambda: unreachable.reviews_of("cus_x"),
        lambda: unreachable.product("SKU0"),
        lambda: unreachable.catalogue(),
    ]
    for call in calls:
        with pytest.raises(CrmUnavailable):
            call()


@pytest.mark.unit
def test_an_external_crm_keeps_no_reviews_and_says_so() -> None:
    external = ExternalCrmReviews()
    for call in (
        lambda: external.reviewable_items("cus_x"),
        lambda: external.submit("cus_x", "JH800001", "SKU0", 4, "Nice.", True),
        lambda: external.reviews_of("cus_x"),
        lambda: external.product("SKU0"),
    ):
        with pytest.raises(ReviewsUnavailable) as raised:
            call()
        assert raised.value.reason == "reviews_unsupported"
    assert external.catalogue() == []
