"""The history reader when the CRM is an external one (CRM_BACKEND=http).

The relationship history lives in our own CRM database, fed by history ingestion; an external CRM keeps its own.
With an external CRM the composition root (hearth/container.py) hands out `ExternalCrmHistory`, whose every
method raises `HistoryUnavailable`; the CRM API answers it with 404 `history_unavailable`.
"""

from __future__ import annotations

from typing import NoReturn

from crm_adapter.domain import ConversationDetail, NotFound, TimelinePage


class HistoryUnavailable(NotFound):
    """This CRM keeps no relationship history."""

    def __init__(self) -> None:
        super().__init__("This CRM backend keeps no relationship history.")


class ExternalCrmHistory:
    """A `HistoryReader` that keeps nothing: every call raises HistoryUnavailable."""

    @staticmethod
    def _not_kept() -> NoReturn:
        raise HistoryUnavailable()

    def timeline(self, customer_id: str, cursor: str | None = None, limit: int = 20) -> TimelinePage:
        self._not_kept()

    def conversation(
        self, customer_id: str, conversation_id: int, cursor: str | None = None, limit: int = 50
    ) -> ConversationDetail:
        self._not_kept()
