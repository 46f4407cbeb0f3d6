"""Trades keep what they opened with (entry_qty) and, when adopted, from when the exchange's records are theirs
(adopted_at): a trade reduced on the exchange is journaled whole when it closes. entry_qty is filled in from each
trade's entry order (its filled qty); adopted trades and trades without one keep NULL (read as ``qty``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 18:05:34.730905
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The tables as this revision knows them (frozen: later model changes must not change what this step does).
TRADES = sa.table("traderecord", sa.column("id", sa.Integer()), sa.column("entry_qty", storage.types.Money()),
                  sa.column("entry_order_link_id", sa.String()))
ORDERS = sa.table("orderrecord", sa.column("order_link_id", sa.String()),
                  sa.column("cum_exec_qty", storage.types.Money()), sa.column("purpose", sa.String()))


def upgrade() -> None:
    # plain ADD/DROP COLUMN (SQLite has both since 3.35): a batch copy-and-move of traderecord would trip the
    # foreign keys that point at it
    op.add_column('traderecord', sa.Column('entry_qty', storage.types.Money(precision=28, scale=10), nullable=True))
    op.add_column('traderecord', sa.Column('adopted_at', storage.types.UTCDateTime(timezone=True), nullable=True))
    filled = (sa.select(ORDERS.c.cum_exec_qty)
              .where(ORDERS.c.order_link_id == TRADES.c.entry_order_link_id, ORDERS.c.purpose == "entry",
                     ORDERS.c.cum_exec_qty > 0)
              .scalar_subquery())
    op.execute(TRADES.update().where(TRADES.c.entry_order_link_id.is_not(None)).values(entry_qty=filled))


def downgrade() -> None:
    op.drop_column('traderecord', 'adopted_at')
    op.drop_column('traderecord', 'entry_qty')
