"""History ingestion: reads Rasa's event log and projects it into the CRM, batch by batch.

Each batch is one CRM transaction holding the projected rows *and* the new checkpoint,
so killing the process at any moment loses nothing and doubles nothing: the next run
starts from the last committed checkpoint. The bot never waits for ingestion; when
ingestion is down the log keeps growing and the next run catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from history.projector import IDLE_CLOSE_BATCH, HistoryProjector, close_idle
from history.rows import HistoryCheckpointRow
from history.sources import Batch, EventSource

log = logging.getLogger("history")


def utcnow() -> datetime:
    return datetime.utcnow()


@dataclass
class StepResult:
    events: int
    messages: int
    skipped: int
    caught_up: bool


class HistoryIngestion:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        source: EventSource,
        batch_size: int = 500,
        idle: timedelta = timedelta(minutes=60),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.source = source
        self.batch_size = batch_size
        self.idle = idle
        self._now = clock

    def step(self) -> StepResult:
        """Reads, projects and commits one batch. A batch that could not be committed (the CRM database went away
        mid-step) is handed back to the source, which reads it again, rather than skipped."""
        batch: Batch | None = None
        try:
            with self._sessions() as s, s.begin():
                checkpoint = self._lock_checkpoint(s)
                batch = self.source.read(checkpoint.position, self.batch_size)
                events = batch.events
                if batch.redelivered and checkpoint.recent_keys:
                    done = set(checkpoint.recent_keys)
                    events = [e for e in events if e.key not in done]
                result = HistoryProjector(s).project(events)
                if batch.events or batch.rejected or batch.position != checkpoint.position:
                    checkpoint.position = batch.position
                    checkpoint.events_ingested += len(events)
                    if batch.token is not None:
                        checkpoint.recent_keys = [e.key for e in batch.events]
        except BaseException:
            if batch is not None:
                self.source.abandoned(batch)
            raise
        self.source.committed(batch)
        skipped = result.skipped + batch.rejected + (len(batch.events) - len(events))
        return StepResult(len(batch.events), result.messages, skipped, batch.caught_up)

    def _lock_checkpoint(self, s: Session) -> HistoryCheckpointRow:
        """The checkpoint row, write-locked (SQLite and PostgreSQL alike) so two runners take turns."""
        touched = s.execute(
            update(HistoryCheckpointRow)
            .where(HistoryCheckpointRow.source == self.source.name)
            .values(updated_at=self._now())
            .execution_options(synchronize_session=False)
        )
        if touched.rowcount == 0:  # type: ignore[attr-defined]
            s.add(
                HistoryCheckpointRow(source=self.source.name, position="0", events_ingested=0, updated_at=self._now())
            )
            s.flush()
        row = s.get(HistoryCheckpointRow, self.source.name, populate_existing=True)
        assert row is not None
        return row

    def catch_up(self, max_steps: int = 1_000_000) -> StepResult:
        """Ingests until the source has nothing more, then ends the conversations that have gone idle."""
        total = StepResult(0, 0, 0, False)
        for _ in range(max_steps):
            step = self.step()
            total = StepResult(
                total.events + step.events, total.messages + step.messages, total.skipped + step.skipped, step.caught_up
            )
            if step.caught_up:
                break
        self.close_idle_conversations()
        return total

    def close_idle_conversations(self) -> int:
        """Ends every conversation idle past the session expiry, a thousand per transaction."""
        total = 0
        while True:
            with self._sessions() as s, s.begin():
                closed = close_idle(s, self._now(), self.idle)
            total += closed
            if closed < IDLE_CLOSE_BATCH:
                return total
