"""Every table of the CRM database on one metadata: the CRM core's rows (crm_adapter/sql/models.py) and each
capability's (analytics, audit, handoff, history, knowledge, NLU review, relationship, reviews, workspace).
Alembic's environment reads it, so migrations and the drift check see every table, and so do the commands that
walk them all (`hearth status`).
"""

from __future__ import annotations

from analytics import rows as analytics_rows
from audit import rows as audit_rows
from crm_adapter.sql.models import Base
from handoff import rows as handoff_rows
from history import rows as history_rows
from knowledge import rows as knowledge_rows
from nlu_review import rows as nlu_review_rows
from relationship import rows as relationship_rows
from reviews import rows as reviews_rows
from workspace import rows as workspace_rows

CAPABILITIES = (
    analytics_rows,
    audit_rows,
    handoff_rows,
    history_rows,
    knowledge_rows,
    nlu_review_rows,
    relationship_rows,
    reviews_rows,
    workspace_rows,
)
metadata = Base.metadata
