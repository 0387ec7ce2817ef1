"""email changes waiting for the code sent to the new address

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-06 17:55:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('new_email', sa.String(length=254), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_email_changes_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_changes'))
    )
    with op.batch_alter_table('email_changes', schema=None) as batch_op:
        batch_op.create_index('ix_email_changes_customer_at', ['customer_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('email_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_email_changes_customer_at')

    op.drop_table('email_changes')
