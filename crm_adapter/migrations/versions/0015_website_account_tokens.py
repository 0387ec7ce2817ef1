"""the shop website's single-use links: password resets and new accounts' confirmations

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('website_account_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=12), nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('first_name', sa.String(length=80), nullable=True),
    sa.Column('last_name', sa.String(length=80), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_website_account_tokens_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_website_account_tokens'))
    )
    with op.batch_alter_table('website_account_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_website_account_tokens_address_at', ['address_key', 'purpose', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_website_account_tokens_customer_id'), ['customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('website_account_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_website_account_tokens_customer_id'))
        batch_op.drop_index('ix_website_account_tokens_address_at')

    op.drop_table('website_account_tokens')
