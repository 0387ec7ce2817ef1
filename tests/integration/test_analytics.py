"""Conversation analytics on a small generated history whose every figure was worked out by hand,
on real SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from analytics.metrics import Filters
from analytics.rows import AnalyticsDayRow
from analytics.service import SqlAnalytics
from crm_adapter.domain import InvalidInput
from crm_adapter.sql.models import CustomerRow
from history.rows import ConversationRow
from relationship.rows import FeedbackRow
from relationship.service import SqlRelationshipService
from relationship.value_store import refresh_values
from tests.analytics_history import DAY1, DAY2, history
from tests.conftest import SqlCrm
from tests.factories import NOW, add_customer, add_order

pytestmark = pytest.mark.integration


def test_every_figure_matches_the_hand_computed_value(sql_crm: SqlCrm) -> None:
    ids = history(sql_crm)
    report = SqlAnalytics(sql_crm.sessions).report(Filters(DAY1, DAY2))

    assert report.total.summary() == {
        "conversations": 6,  # c1-c6; c7 silent, c8 before the range
        "containment": 0.6,  # c1, c4, c5 of the 5 that ended
        "handoff_rate": 0.2,
        "fallback_rate": 0.3333,  # c2, c3 of 6
        "abandonment": 0.2,
        "csat_bot": 4.0,  # 5, 4, 3
        "csat_bot_ratings": 3,
        "csat_person": 2.0,
        "csat_person_ratings": 1,
        "nps": 0.0,  # 10 promoter, 8 passive, 6 detractor
        "nps_ratings": 3,
        "average_sentiment": 0.0714,  # (0.5 - 1.2 + 0 + 0.9 + 0.3) / 7
        "median_resolution_seconds": 240.0,  # 120, 240, 600
    }
    assert {d: f.conversations for d, f in report.by_day.items()} == {DAY1: 4, DAY2: 2}
    assert report.by_day[DAY1].containment == 0.5 and report.by_day[DAY2].containment == 1.0
    assert report.by_day[DAY2].nps_score == -50.0  # 6 and 8: one detractor of two, no promoter
    assert {c: f.conversations for c, f in report.by_channel.items()} == {"rest": 5, "telegram": 1}
    assert report.by_channel["telegram"].csat_bot_mean == 4.0

    by_intent = {i.intent: i for i in report.intents}
    assert [i.intent for i in report.intents] == ["order_status", "complain", "faq", "request_human", "start_return"]
    assert "nlu_fallback" not in by_intent
    order_status = by_intent["order_status"]
    assert (order_status.conversations, order_status.fallback_rate, order_status.csat) == (3, 0.3333, 4.0)
    assert order_status.examples == (ids["c3"],)
    assert by_intent["complain"].handoff_rate == 1.0 and by_intent["complain"].examples == (ids["c2"],)
    assert [i.intent for i in report.worst("csat", 2)] == ["complain", "request_human"]
    assert report.worst("fallbacks", 1)[0].intent == "complain"  # 1 of 1, ahead of order_status's 1 of 3
    assert [(r.intent, r.earlier, r.recent) for r in report.rising] == [("start_return", 0, 1)]


def test_filters_by_channel_and_range(sql_crm: SqlCrm) -> None:
    history(sql_crm)
    analytics = SqlAnalytics(sql_crm.sessions)
    telegram = analytics.report(Filters(DAY1, DAY2, channel="telegram"))
    assert telegram.total.conversations == 1 and telegram.total.nps == [] and telegram.total.csat_bot == [4]
    day2 = analytics.report(Filters(DAY2, DAY2))
    assert day2.total.conversations == 2 and day2.total.nps_score == -50.0
    with pytest.raises(InvalidInput):
        Filters(DAY2, DAY1)


def test_value_tiers_are_refreshed_for_everyone_and_filter_the_figures(sql_crm: SqlCrm) -> None:
    ids = history(sql_crm)
    big = add_customer(sql_crm.sessions, first_name="Vera")
    small = add_customer(sql_crm.sessions, first_name="Sam")
    add_order(sql_crm.sessions, big, "JH800001", status="delivered", delivered_days_ago=5, items=(("Sofa", 1, 300000),))
    with sql_crm.sessions.begin() as s:
        for name in ("c1", "c2"):
            s.get(ConversationRow, ids[name]).customer_id = big  # type: ignore[union-attr]
        s.get(ConversationRow, ids["c4"]).customer_id = small  # type: ignore[union-attr]
        for row in s.scalars(select(FeedbackRow).where(FeedbackRow.conversation_id.in_([ids["c1"], ids["c2"]]))):
            row.customer_id = big
    assert refresh_values(sql_crm.sessions, now=NOW) == 2
    with sql_crm.sessions() as s:
        stored = dict(s.execute(select(CustomerRow.id, CustomerRow.value_tier)).all())
    profile = SqlRelationshipService(sql_crm.sessions, clock=lambda: NOW)
    assert stored == {big: profile.value(big).tier, small: profile.value(small).tier}
    assert (stored[big], stored[small]) == ("vip", "low")

    analytics = SqlAnalytics(sql_crm.sessions)
    vip = analytics.report(Filters(DAY1, DAY2, tier="vip"))
    assert vip.total.conversations == 2 and vip.total.csat_bot == [5] and vip.total.csat_person == [2]
    assert vip.total.nps == [10]
    report = analytics.report(Filters(DAY1, DAY2))
    assert {t: f.conversations for t, f in report.by_tier.items()} == {"vip": 2, "low": 1, "anonymous": 3}
    with pytest.raises(InvalidInput):
        Filters(DAY1, DAY2, tier="gold")


def test_the_command_line_report_writes_csv_and_png_charts(sqlite_crm: SqlCrm, tmp_path) -> None:  # type: ignore[no-untyped-def]
    history(sqlite_crm)
    env = {**os.environ, "CRM_DATABASE_URL": sqlite_crm.url, "HEARTH_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "hearth", "analytics", "--from", "2026-11-01", "--to", "2026-11-03"]
    result = subprocess.run(
        [*command, "--csv", str(tmp_path / "a.csv"), "--charts", str(tmp_path / "charts")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "conversations 6, containment 60.0 %" in result.stdout
    rows = list(csv.DictReader((tmp_path / "a.csv").open()))
    assert [r["day"] for r in rows] == ["2026-11-01", "2026-11-02", "2026-11-03", "total"]
    assert rows[0]["conversations"] == "0" and rows[0]["containment"] == ""  # a quiet day is a row, not a gap
    assert rows[1]["conversations"] == "4" and rows[1]["containment"] == "0.5"
    assert rows[3]["nps"] == "0.0" and rows[3]["median_resolution_seconds"] == "240.0"
    charts = sorted(p.name for p in (tmp_path / "charts").iterdir())
    assert charts == ["conversations.png", "nps.png", "outcomes.png", "satisfaction.png", "sentiment.png"]
    for png in (tmp_path / "charts").iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000

    bad = subprocess.run([*command[:4], "--from", "yesterday"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--from must be a date" in bad.stderr


def test_daily_summaries_give_the_same_figures_as_counting_live(sql_crm: SqlCrm) -> None:
    history(sql_crm)
    filters = Filters(DAY1, DAY2)

    def figures(today: date) -> tuple[object, ...]:
        analytics = SqlAnalytics(sql_crm.sessions, today=lambda: today)
        r = analytics.report(filters)
        groups = (r.by_day, r.by_channel, r.by_tier)
        return (
            analytics.summarised_until(),
            r.total.summary(),
            [{k: f.summary() for k, f in g.items()} for g in groups],
            r.intents,
            r.rising,
        )

    live = figures(DAY1)  # nothing in the range is closed yet: all counted from the conversations
    mixed = figures(DAY2 + timedelta(days=1))  # DAY1 summarised, DAY2 live
    summarised = figures(DAY2 + timedelta(days=30))  # both days from the summaries
    assert (live[0], mixed[0], summarised[0]) == (DAY1 - timedelta(days=2), DAY1, DAY2 + timedelta(days=28))
    assert live[1:] == mixed[1:] == summarised[1:]
    assert live[1]["conversations"] == 6  # the hand-computed figures, whichever way they were counted
    with sql_crm.sessions() as s:
        assert s.scalar(select(func.sum(AnalyticsDayRow.conversations))) == 7  # c1-c6 and c8 (before the range)
