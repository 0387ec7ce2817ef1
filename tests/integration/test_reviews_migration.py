"""Migration 0016 (product reviews): it follows 0014 (0015 comes from another branch and is put before it when the
branches are merged), creates the table with its rules in the database too, and goes back down cleanly; and the
reviews on the customer's timeline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from crm_adapter.sql.db import alembic_config, make_engine, make_session_factory, upgrade
from history.timeline import SqlHistoryService
from reviews.store import SqlReviewStore
from tests.conftest import SqlCrm
from tests.factories import NOW, add_customer, add_order

pytestmark = pytest.mark.integration


def test_0016_follows_0015_in_one_line_of_migrations() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    revision = script.get_revision("0016")
    assert revision is not None and revision.down_revision == "0015"
    assert len(script.get_heads()) == 1


def test_the_table_keeps_one_review_per_customer_and_item_with_1_to_5_stars(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url, "head")  # the factories write every column of today's schema
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    cid = add_customer(sessions)
    add_order(sessions, cid, "JH810001", status="delivered", delivered_days_ago=2)
    insert = text(
        "INSERT INTO product_reviews (customer_id, order_id, sku, product_name, stars, text, published, created_at,"
        " updated_at) SELECT :cid, id, :sku, 'Oak side table', :stars, 'Nice.', 1, :now, :now FROM orders"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"cid": cid, "sku": "SKU0", "stars": 4, "now": NOW})
    for sku, stars in (("SKU0", 4), ("SKU1", 6), ("SKU1", 0)):  # a second review of the item; 6 stars; none
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert, {"cid": cid, "sku": sku, "stars": stars, "now": NOW})
    with engine.begin() as conn:
        conn.execute(insert, {"cid": cid, "sku": "SKU1", "stars": 5, "now": NOW})
    with engine.begin() as conn:  # the review goes with its customer
        conn.execute(text("DELETE FROM customers WHERE id = :cid"), {"cid": cid})
        assert conn.execute(text("SELECT count(*) FROM product_reviews")).scalar() == 0
    engine.dispose()


def test_downgrade_to_0014_removes_the_table_and_upgrade_brings_it_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0014")
    engine = make_engine(url)
    assert "product_reviews" not in inspect(engine).get_table_names()
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    assert {"ix_product_reviews_order_id", "ix_product_reviews_sku_published"} <= {
        index["name"] for index in inspect(engine).get_indexes("product_reviews")
    }
    engine.dispose()


def test_a_review_is_on_the_customers_timeline(sql_crm: SqlCrm) -> None:
    """The review the chat keeps shows on the customer's timeline (history/timeline.py reads the reviews' table),
    newest first with the rest of their history; a second one replaces it there too."""
    cid = add_customer(sql_crm.sessions)
    add_order(sql_crm.sessions, cid, "JH830001", status="delivered", placed_days_ago=9, delivered_days_ago=5)
    store = SqlReviewStore(sql_crm.sessions, clock=sql_crm.clock)
    store.submit(cid, "JH830001", "SKU0", 2, "Wobbly.", published=False)
    sql_crm.clock.advance(hours=2)
    review = store.submit(cid, "JH830001", "SKU0", 5, "Fixed: lovely now.", published=True)

    entries = SqlHistoryService(sql_crm.sessions).timeline(cid).entries
    assert [e.kind for e in entries] == ["review", "order"]
    entry = entries[0]
    assert (entry.reference, entry.occurred_at) == (str(review.review_id), NOW + timedelta(hours=2))
    assert entry.title == "Review of Oak side table: 5/5 (shown on the website)"
    assert entry.detail["order_number"] == "JH830001" and entry.detail["text"] == "Fixed: lovely now."
