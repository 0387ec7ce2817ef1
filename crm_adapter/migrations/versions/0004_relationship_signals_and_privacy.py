"""relationship signals and privacy

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:25:04.787656
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('privacy_jobs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('sender_ids', sa.JSON(), nullable=True),
    sa.Column('up_to', sa.DateTime(), nullable=True),
    sa.Column('subject_hash', sa.String(length=64), nullable=False),
    sa.Column('requested_at', sa.DateTime(), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=True),
    sa.Column('removed', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_jobs'))
    )
    with op.batch_alter_table('privacy_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_privacy_jobs_status_requested', ['status', 'requested_at'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sentiment_sum', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sentiment_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sentiment_min', sa.Float(), nullable=True))

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referred_by', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('csat_asked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('nps_asked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('preferences_proposed_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customers_referred_by'), ['referred_by'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_customers_referred_by_customers'), 'customers', ['referred_by'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('channel', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('sender_id', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_feedback_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_sender_id'), ['sender_id'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sentiment', sa.Float(), nullable=True))

    with op.batch_alter_table('preferences', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), server_default='customer', nullable=False))

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_order_id'))

    with op.batch_alter_table('preferences', schema=None) as batch_op:
        batch_op.drop_column('source')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('sentiment')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_sender_id'))
        batch_op.drop_index(batch_op.f('ix_feedback_conversation_id'))
        batch_op.drop_column('sender_id')
        batch_op.drop_column('channel')
        batch_op.drop_column('resolution')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_customers_referred_by_customers'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_customers_referred_by'))
        batch_op.drop_column('preferences_proposed_at')
        batch_op.drop_column('nps_asked_at')
        batch_op.drop_column('csat_asked_at')
        batch_op.drop_column('referred_by')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_column('sentiment_min')
        batch_op.drop_column('sentiment_count')
        batch_op.drop_column('sentiment_sum')

    with op.batch_alter_table('privacy_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_privacy_jobs_status_requested')

    op.drop_table('privacy_jobs')
