"""Benchmark conversation analytics on PostgreSQL: the figures for a range holding 1,000,000 messages.

    PYTHONPATH=. .venvs/app/bin/python scripts/bench_analytics.py

Builds a fresh database with `scripts/bench_history.py`'s generator (20,000 customers, 1,000,000 messages in
200,000 conversations over two years, with intents, outcomes, fallbacks and handoffs), adds a sentiment to
every conversation and a resolution and channel to every rating, refreshes the value tiers, then times
`SqlAnalytics.report()` as the console and the command line call it: the whole two years, one month, one
channel, one tier. The daily summaries of the closed days are built first and timed on their own (history
ingestion keeps them up to date in the background, a day at a time). The figures go to `--out` (JSON);
the database is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_history import ADMIN_URL, bench_database, generate  # noqa: E402

from analytics.metrics import Filters  # noqa: E402
from analytics.service import SqlAnalytics  # noqa: E402
from crm_adapter.sql.db import make_engine, make_session_factory  # noqa: E402
from history.rows import ConversationRow  # noqa: E402
from relationship.value_store import refresh_values  # noqa: E402

ENRICH = [
    "UPDATE conversations SET sentiment_count = customer_message_count, "
    "sentiment_sum = customer_message_count * (random() * 1.6 - 0.6)",
    "UPDATE feedback SET channel = (ARRAY['rest','socketio','telegram','twilio'])[1 + floor(random() * 4)::int], "
    "resolution = CASE WHEN kind = 'csat' THEN (CASE WHEN random() < 0.2 THEN 'person' ELSE 'bot' END) END",
    "ANALYZE",
]


def timed_runs(analytics: SqlAnalytics, filters: Filters, runs: int) -> dict[str, object]:
    seconds = []
    report = None
    for _ in range(runs):
        started = time.perf_counter()
        report = analytics.report(filters)
        seconds.append(time.perf_counter() - started)
    assert report is not None
    return {
        "filters": {
            "start": filters.start.isoformat(),
            "end": filters.end.isoformat(),
            "channel": filters.channel,
            "tier": filters.tier,
        },  # fmt: skip
        "conversations": report.total.conversations,
        "p50_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "docs" / "measurements" / "analytics.json"))
    parser.add_argument("--postgres-url", default=ADMIN_URL)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (its URL is printed)")
    args = parser.parse_args()
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    result: dict[str, object] = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scale": {"customers": args.customers, "messages": args.messages},
    }
    try:
        with bench_database(admin, f"hearth_analytics_{uuid.uuid4().hex[:10]}", args.keep) as url:
            if args.keep:
                print(f"database: {url}", flush=True)
            print(f"generating {args.messages} messages ...", flush=True)
            result["generation_s"] = generate(url, args.customers, args.messages, 20261123)["seconds"]
            engine = make_engine(url)
            with engine.begin() as conn:
                for statement in ENRICH:
                    conn.execute(text(statement))
            sessions = make_session_factory(engine)
            started = time.perf_counter()
            refreshed = refresh_values(sessions)
            result["value_refresh"] = {"customers": refreshed, "seconds": round(time.perf_counter() - started, 2)}
            with sessions() as s:
                first, last, messages = s.execute(
                    select(
                        func.min(ConversationRow.started_at),
                        func.max(ConversationRow.started_at),
                        func.sum(ConversationRow.message_count),
                    )
                ).one()
            result["messages_in_range"] = int(messages)
            end: date = last.date()
            analytics = SqlAnalytics(sessions)
            started = time.perf_counter()
            days = analytics.refresh_summaries()  # what history ingestion does in the background, hourly
            result["summaries"] = {"days": days, "seconds": round(time.perf_counter() - started, 2)}
            print(f"summarised {days} days in {result['summaries']['seconds']} s; timing reports ...", flush=True)
            result["reports"] = {
                "whole range": timed_runs(analytics, Filters(first.date(), end), args.runs),
                "last 30 days": timed_runs(analytics, Filters(end - timedelta(days=29), end), args.runs),
                "one channel": timed_runs(analytics, Filters(first.date(), end, channel="telegram"), args.runs),
                "one tier": timed_runs(analytics, Filters(first.date(), end, tier="high"), args.runs),
            }
            engine.dispose()
    finally:
        admin.dispose()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, figures in result["reports"].items():  # type: ignore[attr-defined]
        print(f"{name}: {figures['conversations']} conversations, p50 {figures['p50_s']} s "
              f"(min {figures['min_s']}, max {figures['max_s']})")  # fmt: skip
    print(f"messages in the range: {result['messages_in_range']}; value refresh {result['value_refresh']}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
