"""Cards and trades keep their origin: "signal" (the strategy's) or "manual" (/long, /short). Every row written
before this revision came from a signal (or was adopted), so the column is added with "signal" as its default.
The chat's settings keep the watch list /symbols changed (NULL: the config's).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN with a server default (as 0003): a batch copy of traderecord would trip its foreign keys
    for table in ('confirmation', 'traderecord'):
        op.add_column(table, sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False,
                                       server_default='signal'))
    op.add_column('chatsettings', sa.Column('symbols', storage.types.JSONValue(), nullable=True))


def downgrade() -> None:
    op.drop_column('chatsettings', 'symbols')
    for table in ('traderecord', 'confirmation'):
        op.drop_column(table, 'origin')
