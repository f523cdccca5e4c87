"""Connections remember that their expiry was announced (resolvers.expiry)

Revision ID: 8c3f0a7d2b41
Revises: 5e1422d596f0
Create Date: 2026-12-01 07:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '8c3f0a7d2b41'
down_revision = '5e1422d596f0'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('customer_connections',
                  sa.Column('expiry_announced_at', sa.DateTime(timezone=True), nullable=True))
    # What had expired before the sweeper existed is old news: do not announce it now.
    op.execute("UPDATE customer_connections SET expiry_announced_at = now() "
               "WHERE status = 'ACCEPTED' AND expires_at <= now()")
    op.execute("UPDATE certificates SET expiry_announced_on = current_date "
               "WHERE status = 'ACTIVE' AND valid_until < current_date "
               "AND expiry_announced_on IS NULL")


def downgrade() -> None:
    op.drop_column('customer_connections', 'expiry_announced_at')
