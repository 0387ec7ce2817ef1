"""wrong console passwords per username and per client address, to throttle guessing

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_login_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_login_failures'))
    )
    with op.batch_alter_table('console_login_failures', schema=None) as batch_op:
        batch_op.create_index('ix_console_login_failures_key_at', ['key', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_login_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_console_login_failures_key_at')

    op.drop_table('console_login_failures')
