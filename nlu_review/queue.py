"""The review queue of misunderstood messages: people label what the bot got wrong.

History ingestion files every customer message the bot fell back on, or understood with low
confidence (`projector.REVIEW_BELOW`), as a pending review. A team member assigns the intent
it meant, marks it out of scope, or dismisses it (nonsense, personal data). Accepted
labels are exported as (text, intent) rows for `scripts/nlu.py import-csv`, which adds them
to the training data with its duplicate and conflict checks; the next evaluation includes them.

    python -m hearth review list [--status pending] [--limit 50]
    python -m hearth review assign ID INTENT [--by NAME]
    python -m hearth review out-of-scope ID [--by NAME]
    python -m hearth review dismiss ID [--by NAME]
    python -m hearth review export reviewed.csv     # accepted and not yet exported
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_adapter.domain import InvalidInput, NotAllowed, NotFound
from crm_adapter.sql.db import unavailable_as_crm_error
from nlu_review.rows import NluReviewRow

OUT_OF_SCOPE = "out_of_scope"
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
STATUSES = ("pending", "accepted", "out_of_scope", "dismissed")


@dataclass(frozen=True)
class ReviewItem:
    review_id: int
    text: str
    predicted_intent: str | None
    confidence: float | None
    status: str
    intent: str | None
    reviewer: str | None
    created_at: datetime


class ReviewQueue:
    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = datetime.utcnow) -> None:
        self._sessions = sessions
        self._now = clock

    def list(self, status: str = "pending", limit: int = 50) -> list[ReviewItem]:
        if status not in STATUSES:
            raise InvalidInput("status", f"status is one of {', '.join(STATUSES)}")
        with unavailable_as_crm_error(), self._sessions() as s:
            rows = s.scalars(
                select(NluReviewRow)
                .where(NluReviewRow.status == status)
                .order_by(NluReviewRow.created_at, NluReviewRow.id)
                .limit(max(1, min(limit, 1000)))
            )
            return [_item(r) for r in rows]

    def assign(self, review_id: int, intent: str, reviewer: str) -> ReviewItem:
        intent = intent.strip()
        if not INTENT_NAME.match(intent):
            raise InvalidInput("intent", "An intent name is lower case letters, digits and _ (e.g. order_status).")
        status = "out_of_scope" if intent == OUT_OF_SCOPE else "accepted"
        return self._decide(review_id, status, intent, reviewer)

    def out_of_scope(self, review_id: int, reviewer: str) -> ReviewItem:
        return self._decide(review_id, "out_of_scope", OUT_OF_SCOPE, reviewer)

    def dismiss(self, review_id: int, reviewer: str) -> ReviewItem:
        return self._decide(review_id, "dismissed", None, reviewer)

    def _decide(self, review_id: int, status: str, intent: str | None, reviewer: str) -> ReviewItem:
        with unavailable_as_crm_error(), self._sessions() as s, s.begin():
            row = s.get(NluReviewRow, review_id)
            if row is None:
                raise NotFound(f"review {review_id}")
            if row.exported_at is not None:
                raise NotAllowed("already_exported", f"Review {review_id} is already in the training data.")
            row.status, row.intent = status, intent
            row.reviewer = (reviewer or "unknown")[:80]
            row.decided_at = self._now()
            return _item(row)

    def export(self, target: Path) -> int:
        """Writes the accepted and out-of-scope labels not exported before as CSV (text, intent); returns the count."""
        with unavailable_as_crm_error(), self._sessions() as s, s.begin():
            rows = list(
                s.scalars(
                    select(NluReviewRow)
                    .where(NluReviewRow.status.in_(["accepted", "out_of_scope"]), NluReviewRow.exported_at.is_(None))
                    .order_by(NluReviewRow.id)
                )
            )
            with target.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["text", "intent"])
                for row in rows:
                    writer.writerow([row.text, row.intent])
            now = self._now()
            for row in rows:
                row.exported_at = now
            return len(rows)


def _item(row: NluReviewRow) -> ReviewItem:
    return ReviewItem(
        review_id=row.id,
        text=row.text,
        predicted_intent=row.predicted_intent,
        confidence=row.confidence,
        status=row.status,
        intent=row.intent,
        reviewer=row.reviewer,
        created_at=row.created_at,
    )


def main(sessions: sessionmaker[Session], argv: list[str]) -> int:
    import argparse
    import getpass

    from crm_adapter.domain import CrmError

    parser = argparse.ArgumentParser(prog="python -m hearth review", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list")
    listing.add_argument("--status", default="pending", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=50)
    for name in ("assign", "out-of-scope", "dismiss"):
        command = sub.add_parser(name)
        command.add_argument("id", type=int)
        if name == "assign":
            command.add_argument("intent")
        command.add_argument("--by", default=getpass.getuser())
    export = sub.add_parser("export")
    export.add_argument("csv", type=Path)
    args = parser.parse_args(argv)
    queue = ReviewQueue(sessions)
    try:
        if args.action == "list":
            items = queue.list(args.status, args.limit)
            for item in items:
                guess = f"{item.predicted_intent} {item.confidence:.2f}" if item.confidence is not None else "-"
                label = f" -> {item.intent}" if item.intent else ""
                print(f"{item.review_id:>6}  {item.created_at:%Y-%m-%d %H:%M}  [{guess}]{label}  {item.text}")
            print(f"{len(items)} {args.status} review(s)")
        elif args.action == "export":
            count = queue.export(args.csv)
            print(f"{count} labelled message(s) written to {args.csv}; add them to the training data with:")
            print(f"  .venvs/rasa/bin/python scripts/nlu.py import-csv {args.csv} --into data/nlu/reviewed.yml")
        else:
            if args.action == "assign":
                item = queue.assign(args.id, args.intent, args.by)
            elif args.action == "out-of-scope":
                item = queue.out_of_scope(args.id, args.by)
            else:
                item = queue.dismiss(args.id, args.by)
            print(f"review {item.review_id}: {item.status}" + (f" as {item.intent}" if item.intent else ""))
    except CrmError as exc:
        print(f"error: {exc}")
        return 2
    return 0
