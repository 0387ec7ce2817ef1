"""the agent workspace: canned responses, response targets, each agent's capacity, a handoff's first reply

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('canned_responses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('shortcut', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=False), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('shortcut')
    )
    op.create_table('response_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=False), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.Integer(), server_default='3', nullable=False))
    op.execute("UPDATE agents SET capacity = 0 WHERE role = 'admin'")  # admins get conversations only once set
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_response_at', sa.DateTime(timezone=False), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('first_response_at')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('capacity')
    op.drop_table('response_targets')
    op.drop_table('canned_responses')
