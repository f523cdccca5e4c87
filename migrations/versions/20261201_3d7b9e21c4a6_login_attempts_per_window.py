"""Sign-in attempts are counted when they start, per account and per client address, in windows
(auth.login_throttle); the per-email failure counts they replace are dropped (they are transient)

Revision ID: 3d7b9e21c4a6
Revises: 8c3f0a7d2b41
Create Date: 2026-12-01 15:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '3d7b9e21c4a6'
down_revision = '8c3f0a7d2b41'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('login_attempts')
    op.create_table(
        'login_attempts',
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('key', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('window_started_at', sa.DateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("scope IN ('ACCOUNT', 'ADDRESS')", name=op.f('ck_login_attempts_scope')),
        sa.PrimaryKeyConstraint('scope', 'key', name=op.f('pk_login_attempts')),
    )
    op.create_index(op.f('ix_login_attempts_window_started_at'), 'login_attempts',
                    ['window_started_at'])


def downgrade() -> None:
    op.drop_table('login_attempts')
    op.create_table(
        'login_attempts',
        sa.Column('email', sa.Text(), nullable=False),
        sa.Column('failures', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(timezone=True),
                  server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('email', name=op.f('pk_login_attempts')),
    )
