"""relationship history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:44:54.820130
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('history_checkpoints',
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('position', sa.String(length=64), nullable=False),
    sa.Column('recent_keys', sa.JSON(), nullable=True),
    sa.Column('events_ingested', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source', name=op.f('pk_history_checkpoints'))
    )
    op.create_table('feedback',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=True),
    sa.Column('conversation_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_feedback_conversation_id_conversations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_feedback_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback'))
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_customer_created', ['customer_id', 'created_at'], unique=False)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_event_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('message_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('customer_message_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('intents', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('refs', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('active_loop', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('last_user_message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('fallback_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_action', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('handed_off', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_conversations_open', ['ended_at', 'last_event_at'], unique=False)
        batch_op.create_index('ix_conversations_sender_id', ['sender_id', 'id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_conversations_session_key'), ['session_key'])

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('response', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('actions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('slots', sa.JSON(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_messages_event_key'), ['event_key'])

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_customer_id'))
        batch_op.create_index('ix_orders_customer_placed', ['customer_id', 'placed_at'], unique=False)

    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_returns_customer_id'))
        batch_op.create_index('ix_returns_customer_created', ['customer_id', 'created_at'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_customer_id'))
        batch_op.create_index('ix_tickets_customer_created', ['customer_id', 'created_at'], unique=False)




def downgrade() -> None:
    
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_customer_created')
        batch_op.create_index(batch_op.f('ix_tickets_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('returns', schema=None) as batch_op:
        batch_op.drop_index('ix_returns_customer_created')
        batch_op.create_index(batch_op.f('ix_returns_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_customer_placed')
        batch_op.create_index(batch_op.f('ix_orders_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_messages_event_key'), type_='unique')
        batch_op.drop_column('slots')
        batch_op.drop_column('actions')
        batch_op.drop_column('response')
        batch_op.drop_column('event_key')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_conversations_session_key'), type_='unique')
        batch_op.drop_index('ix_conversations_sender_id')
        batch_op.drop_index('ix_conversations_open')
        batch_op.drop_column('handed_off')
        batch_op.drop_column('last_action')
        batch_op.drop_column('fallback_count')
        batch_op.drop_column('last_user_message_id')
        batch_op.drop_column('active_loop')
        batch_op.drop_column('refs')
        batch_op.drop_column('intents')
        batch_op.drop_column('customer_message_count')
        batch_op.drop_column('message_count')
        batch_op.drop_column('last_event_at')
        batch_op.drop_column('session_key')

    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_customer_created')

    op.drop_table('feedback')
    op.drop_table('history_checkpoints')

