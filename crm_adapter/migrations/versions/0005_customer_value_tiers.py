"""customer value tiers

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 02:39:20.746091
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('value_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('value_tier', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('value_updated_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customers_value_tier'), ['value_tier'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_value_tier'))
        batch_op.drop_column('value_updated_at')
        batch_op.drop_column('value_tier')
        batch_op.drop_column('value_score')

