"""The schema comes from Alembic alone, matches the models, and the demo data is deterministic."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select

from analytics.charts import svg_charts
from analytics.service import SqlAnalytics
from console.routes.analytics import filters_from
from crm_adapter.sql.db import make_engine
from crm_adapter.sql.models import ChannelIdentityRow, CustomerRow, OrderRow, TicketRow
from hearth.schema import metadata
from hearth.seed import DEMO_CUSTOMERS, is_empty, seed
from history.rows import ConversationRow, MessageRow
from relationship.rows import FeedbackRow
from tests.factories import NOW

pytestmark = pytest.mark.integration


def test_upgrade_head_on_an_empty_database_creates_every_table(sql_crm):
    engine = make_engine(sql_crm.url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_models_and_migrations_do_not_drift(sql_crm):
    engine = make_engine(sql_crm.url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    assert diff == [], f"models differ from migrations; add an Alembic revision: {diff}"


def test_seed_is_deterministic_and_realistic(sql_crm):
    assert is_empty(sql_crm.sessions)
    counts = seed(sql_crm.sessions, customers=60, now=NOW)

    assert not is_empty(sql_crm.sessions)
    assert counts["customers"] == 60 and counts["orders"] >= 60 and counts["conversations"] > 0
    with sql_crm.sessions() as s:
        emails = s.scalars(select(CustomerRow.email).order_by(CustomerRow.email)).all()
        assert len(set(emails)) == 60
        for demo in DEMO_CUSTOMERS:
            customer = s.get(CustomerRow, demo.customer_id)
            assert (customer.email, customer.first_name) == (demo.email, demo.first_name)
            order = s.scalar(select(OrderRow).where(OrderRow.order_number == demo.order_number))
            assert (order.customer_id, order.status) == (demo.customer_id, demo.order_status)
            identity = s.scalar(select(ChannelIdentityRow).where(ChannelIdentityRow.sender_id == demo.sender_id))
            assert identity.customer_id == demo.customer_id
        assert (
            s.scalar(
                select(func.count())
                .select_from(TicketRow)
                .where(TicketRow.customer_id == "cus_demo_anna", TicketRow.status == "open")
            )
            == 1
        )


def test_the_same_seed_gives_the_same_customers_and_history(tmp_path):
    from crm_adapter.sql.db import make_session_factory, upgrade

    results = []
    for name in ("a", "b"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        engine = make_engine(url)
        seed(make_session_factory(engine), customers=40, now=NOW)
        with engine.connect() as conn:
            results.append(
                [
                    conn.execute(select(CustomerRow.email, CustomerRow.loyalty_points).order_by(CustomerRow.id)).all(),
                    conn.execute(select(ConversationRow).order_by(ConversationRow.id)).all(),
                    conn.execute(select(MessageRow).order_by(MessageRow.id)).all(),
                    conn.execute(select(FeedbackRow).order_by(FeedbackRow.id)).all(),
                ]
            )
        engine.dispose()
    assert results[0] == results[1]


def test_seeded_order_numbers_do_not_lead_from_one_to_the_next(sqlite_crm):
    """An order number proves who a customer is, so knowing one must not give away another: apart from the
    three documented demo orders, numbers are spread at random, none next to another of the same customer's,
    and no customer's numbers run in sequence."""
    seed(sqlite_crm.sessions, customers=80, now=NOW)
    with sqlite_crm.sessions() as s:
        rows = s.execute(select(OrderRow.customer_id, OrderRow.order_number)).all()
    demo_numbers = {d.order_number for d in DEMO_CUSTOMERS}
    numbers = sorted(int(number[2:]) for _, number in rows if number not in demo_numbers)
    assert all(re.fullmatch(r"JH\d{6}", number) for _, number in rows)
    assert len(numbers) == len(set(numbers)) > 150
    gaps = [b - a for a, b in zip(numbers, numbers[1:], strict=False)]
    assert sum(1 for gap in gaps if gap == 1) <= 1  # a sequence would make every gap 1
    assert max(gaps) > 10 * min(gaps) and numbers[-1] - numbers[0] > 500_000  # spread over the range
    per_customer: dict[str, list[int]] = {}
    for customer_id, number in rows:
        per_customer.setdefault(customer_id, []).append(int(number[2:]))
    for customer_id, own in per_customer.items():
        own.sort()
        assert all(b - a > 1 for a, b in zip(own, own[1:], strict=False)), (customer_id, own)


def test_demo_customers_get_the_personal_highlight_the_readme_promises(sql_crm):
    seed(sql_crm.sessions, customers=10, now=NOW)
    sql_crm.clock.now = NOW
    service = sql_crm.service
    kinds = {d.first_name: service.recognize(d.channel, d.sender_id).highlight.kind for d in DEMO_CUSTOMERS}
    assert kinds == {"Anna": "open_ticket", "Omar": "order_delivered", "Lucy": "order_in_progress"}


def test_a_first_look_at_the_analytics_page_shows_the_seeded_conversations(sqlite_crm):
    """The console's default range (no dates asked for) covers the demo history: conversations on most days,
    ratings, misunderstandings, intents, and every chart has something to draw."""
    seed(sqlite_crm.sessions, customers=120, now=NOW)
    today = NOW.date()
    filters = filters_from(None, None, None, None, today)
    report = SqlAnalytics(sqlite_crm.sessions, today=lambda: today).report(filters)

    busy_days = [day for day, figures in report.by_day.items() if figures.conversations]
    assert len(busy_days) >= 15 and all(filters.start <= day <= filters.end for day in busy_days)
    total = report.total
    assert total.conversations >= 60 and total.containment and total.handoff_rate and total.fallback_rate
    assert total.csat_bot and total.csat_person and total.nps and total.sentiment_count
    assert len(report.intents) >= 5 and "nlu_fallback" not in {i.intent for i in report.intents}
    for chart in svg_charts(report):
        points = [int(n) for n in re.findall(r'data-points="(\d+)"', chart)] or [chart.count('class="bar"')]
        assert all(points), chart[:120]
    with sqlite_crm.sessions() as s:  # the demo customers' history stays as it was: not counted, not rated
        demo = [d.customer_id for d in DEMO_CUSTOMERS]
        assert not s.scalar(select(func.count()).select_from(FeedbackRow).where(FeedbackRow.customer_id.in_(demo)))
        assert not s.scalar(
            select(func.count())
            .select_from(ConversationRow)
            .where(ConversationRow.customer_id.in_(demo), ConversationRow.customer_message_count > 0)
        )
