"""nlu review queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:56:05.211724
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('nlu_reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('predicted_intent', sa.String(length=80), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('intent', sa.String(length=80), nullable=True),
    sa.Column('reviewer', sa.String(length=80), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('exported_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_nlu_reviews_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nlu_reviews')),
    sa.UniqueConstraint('message_id', name=op.f('uq_nlu_reviews_message_id'))
    )
    with op.batch_alter_table('nlu_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_nlu_reviews_status_created', ['status', 'created_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('nlu_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_nlu_reviews_status_created')

    op.drop_table('nlu_reviews')

