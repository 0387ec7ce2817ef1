"""`python -m hearth analytics` and `python -m hearth values`."""

from __future__ import annotations

import argparse
import sys
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from analytics.metrics import Filters, Report
from analytics.render import report_csv, write_charts
from analytics.service import SqlAnalytics
from crm_adapter.domain import CrmUnavailable, InvalidInput


def run(args: argparse.Namespace, sessions: sessionmaker[Session]) -> int:
    try:
        if args.command == "values":
            from relationship.value_store import refresh_values

            print(f"value scores and tiers refreshed for {refresh_values(sessions)} customers")
            return 0
        end = _day(args.end, "--to") if args.end else date.today()
        start = _day(args.start, "--from") if args.start else end - timedelta(days=29)
        report = SqlAnalytics(sessions).report(Filters(start, end, channel=args.channel, tier=args.tier))
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CrmUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render(report))
    if args.csv:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(report_csv(report))
        print(f"figures per day written to {args.csv}")
    if args.charts:
        for path in write_charts(report, args.charts):
            print(f"chart written to {path}")
    return 0


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(flag, f"{flag} must be a date like 2026-11-01, not {value!r}") from None


def _fmt(value: object, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent and isinstance(value, float):
        return f"{100 * value:.1f} %"
    return str(value)


def render(report: Report) -> str:
    f, t = report.filters, report.total.summary()
    scope = (f", channel {f.channel}" if f.channel else "") + (f", tier {f.tier}" if f.tier else "")
    lines = [
        f"{f.start} to {f.end}{scope}",
        f"  conversations {t['conversations']}, containment {_fmt(t['containment'], True)}, "
        f"handoff {_fmt(t['handoff_rate'], True)}, fallback {_fmt(t['fallback_rate'], True)}, "
        f"abandoned {_fmt(t['abandonment'], True)}",
        f"  CSAT bot {_fmt(t['csat_bot'])} ({t['csat_bot_ratings']}), person {_fmt(t['csat_person'])} "
        f"({t['csat_person_ratings']}), NPS {_fmt(t['nps'])} ({t['nps_ratings']}), "
        f"sentiment {_fmt(t['average_sentiment'])}, median time to resolution {_fmt(t['median_resolution_seconds'])} s",
        "  top intents: " + ", ".join(f"{i.intent} {i.conversations}" for i in report.intents[:5]),
        "  rising: " + (", ".join(f"{r.intent} {r.earlier}->{r.recent}" for r in report.rising) or "none"),
    ]
    for label, key in (("most fallbacks", "fallbacks"), ("lowest CSAT", "csat"), ("most handoffs", "handoffs")):
        worst = report.worst(key, 3)
        lines.append(
            f"  {label}: "
            + (", ".join(f"{i.intent} (examples {', '.join(map(str, i.examples)) or '-'})" for i in worst) or "-")
        )
    return "\n".join(lines)
