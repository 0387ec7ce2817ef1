"""analytics daily summaries

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 03:03:16.933197
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('tier', sa.String(length=12), nullable=False),
    sa.Column('conversations', sa.Integer(), nullable=False),
    sa.Column('ended', sa.Integer(), nullable=False),
    sa.Column('resolved_by_bot', sa.Integer(), nullable=False),
    sa.Column('handed_off', sa.Integer(), nullable=False),
    sa.Column('abandoned', sa.Integer(), nullable=False),
    sa.Column('with_fallback', sa.Integer(), nullable=False),
    sa.Column('sentiment_sum', sa.Float(), nullable=False),
    sa.Column('sentiment_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'channel', 'tier', name=op.f('pk_analytics_days'))
    )
    op.create_table('analytics_intent_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('tier', sa.String(length=12), nullable=False),
    sa.Column('intent', sa.String(length=80), nullable=False),
    sa.Column('conversations', sa.Integer(), nullable=False),
    sa.Column('with_fallback', sa.Integer(), nullable=False),
    sa.Column('handed_off', sa.Integer(), nullable=False),
    sa.Column('csat_sum', sa.Float(), nullable=False),
    sa.Column('csat_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'channel', 'tier', 'intent', name=op.f('pk_analytics_intent_days'))
    )


def downgrade() -> None:
    op.drop_table('analytics_intent_days')
    op.drop_table('analytics_days')
