"""A small history whose every analytics figure was worked out by hand (tests/integration/test_analytics.py);
the console's browser test shows the same figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from history.rows import ConversationRow, MessageRow
from relationship.rows import FeedbackRow
from tests.conftest import SqlCrm

DAY1, DAY2 = date(2026, 11, 2), date(2026, 11, 3)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute)


def history(crm: SqlCrm | sessionmaker[Session]) -> dict[str, int]:
    """Seven conversations and seven ratings; returns the conversation ids by name."""
    plan = {
        # name: (channel, start, minutes, outcome, intents, fallbacks, sentiment sum, scored messages, customer msgs)
        "c1": ("rest", at(DAY1, 10), 4, "resolved_by_bot", {"order_status": 1}, 0, 0.5, 2, 2),
        "c2": ("rest", at(DAY1, 11), 10, "handed_off", {"complain": 1, "request_human": 1}, 1, -1.2, 2, 2),
        "c3": ("rest", at(DAY1, 12), 1, "abandoned", {"order_status": 1, "nlu_fallback": 1}, 2, 0.0, 1, 2),
        "c4": ("telegram", at(DAY1, 13), 2, "resolved_by_bot", {"faq": 1}, 0, 0.9, 1, 1),
        "c5": ("rest", at(DAY2, 9), 10, "resolved_by_bot", {"order_status": 1}, 0, 0.3, 1, 1),
        "c6": ("rest", at(DAY2, 10), None, None, {"start_return": 1}, 0, 0.0, 0, 1),
        "c7": ("rest", at(DAY2, 11), 1, "abandoned", {}, 0, 0.0, 0, 0),  # the customer never spoke: not counted
        "c8": ("rest", at(DAY1, 9) - timedelta(days=2), 3, "resolved_by_bot", {"faq": 1}, 0, 0.0, 0, 1),  # before
    }
    ids = {}
    sessions = crm if isinstance(crm, sessionmaker) else crm.sessions
    with sessions.begin() as s:
        for name, (channel, start, minutes, outcome, intents, fallbacks, s_sum, s_n, said) in plan.items():
            row = ConversationRow(
                channel=channel,
                sender_id=f"s-{name}",
                started_at=start,
                ended_at=start + timedelta(minutes=minutes) if minutes is not None else None,
                outcome=outcome,
                intents=intents,
                fallback_count=fallbacks,
                sentiment_sum=s_sum,
                sentiment_count=s_n,
                customer_message_count=said,
                message_count=2 * said,
            )
            s.add(row)
            s.flush()
            ids[name] = row.id
            if name == "c3":  # an example conversation the console shows: its text must come out escaped
                s.add(MessageRow(conversation_id=row.id, sender="customer", created_at=start, intent="nlu_fallback",
                                 text="<script>window.hacked = 1</script> wheres my sofa"))  # fmt: skip
        ratings = [
            ("csat", 5, "bot", "c1", "rest", at(DAY1, 10, 5)),
            ("csat", 2, "person", "c2", "rest", at(DAY1, 11, 15)),
            ("csat", 4, "bot", "c4", "telegram", at(DAY1, 13, 5)),
            ("nps", 10, None, "c1", "rest", at(DAY1, 10, 6)),
            ("csat", 3, "bot", "c5", "rest", at(DAY2, 9, 11)),
            ("nps", 6, None, "c5", "rest", at(DAY2, 9, 12)),
            ("nps", 8, None, None, "rest", at(DAY2, 15)),
        ]
        for kind, score, resolution, conv, channel, when in ratings:
            s.add(
                FeedbackRow(
                    kind=kind,
                    score=score,
                    resolution=resolution,
                    conversation_id=ids[conv] if conv else None,
                    channel=channel,
                    created_at=when,
                )
            )
    return ids
