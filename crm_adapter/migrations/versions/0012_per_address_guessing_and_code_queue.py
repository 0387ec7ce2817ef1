"""wrong order numbers counted per claimed address (keyed hash), one-time code requests queued for the worker

Replaces the per-customer count of wrong proofs (0009), which let a stranger lock a customer out of verification.
The counts of the old table are not carried over: they were keyed by customer, not by address, and are at most an
hour's worth.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_proof_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_proof_failures'))
    )
    with op.batch_alter_table('order_proof_failures', schema=None) as batch_op:
        batch_op.create_index('ix_order_proof_failures_address_at', ['address_key', 'created_at'], unique=False)

    op.create_table('code_requests',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('address_key', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('handled_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_code_requests_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_requests'))
    )
    with op.batch_alter_table('code_requests', schema=None) as batch_op:
        batch_op.create_index('ix_code_requests_address_at', ['address_key', 'created_at'], unique=False)
        batch_op.create_index('ix_code_requests_pending', ['handled_at', 'id'], unique=False)

    with op.batch_alter_table('verification_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_verification_failures_customer_at')
    op.drop_table('verification_failures')


def downgrade() -> None:
    op.create_table('verification_failures',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_verification_failures_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_failures'))
    )
    with op.batch_alter_table('verification_failures', schema=None) as batch_op:
        batch_op.create_index('ix_verification_failures_customer_at', ['customer_id', 'created_at'], unique=False)

    with op.batch_alter_table('code_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_code_requests_pending')
        batch_op.drop_index('ix_code_requests_address_at')
    op.drop_table('code_requests')

    with op.batch_alter_table('order_proof_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_order_proof_failures_address_at')
    op.drop_table('order_proof_failures')
