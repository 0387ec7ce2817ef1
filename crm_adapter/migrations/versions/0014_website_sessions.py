"""the shop website's sign-ins, so that signing out ends its cookie and the widget's identity tokens

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-06 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('website_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_website_sessions_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_website_sessions'))
    )
    with op.batch_alter_table('website_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_website_sessions_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('website_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_website_sessions_customer_id'))

    op.drop_table('website_sessions')
