"""product reviews: a customer's stars and words about an item of a delivered order, and whether to show them

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('product_reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('customer_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=24), nullable=False),
    sa.Column('product_name', sa.String(length=120), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('stars BETWEEN 1 AND 5', name=op.f('ck_product_reviews_stars_1_to_5')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_product_reviews_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_product_reviews_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_reviews')),
    sa.UniqueConstraint('customer_id', 'sku', name='uq_product_reviews_customer_sku')
    )
    with op.batch_alter_table('product_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_reviews_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_product_reviews_sku_published', ['sku', 'published'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('product_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_product_reviews_sku_published')
        batch_op.drop_index(batch_op.f('ix_product_reviews_order_id'))

    op.drop_table('product_reviews')
