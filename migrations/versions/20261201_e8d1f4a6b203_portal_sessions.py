"""Portal sessions kept server-side, and the socket tickets they have used

Revision ID: e8d1f4a6b203
Revises: c41d8e5a9f27
Create Date: 2026-12-01 19:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e8d1f4a6b203'
down_revision = 'c41d8e5a9f27'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_sessions',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('secret_hash', sa.Text(), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_portal_sessions_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_sessions')),
    )
    op.create_index(op.f('ix_portal_sessions_secret_hash'), 'portal_sessions', ['secret_hash'],
                    unique=True)
    op.create_index(op.f('ix_portal_sessions_user_id'), 'portal_sessions', ['user_id'])
    op.create_table(
        'socket_ticket_uses',
        sa.Column('ticket_id', sa.Text(), nullable=False),
        sa.Column('session_id', sa.BigInteger(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['portal_sessions.id'],
                                name=op.f('fk_socket_ticket_uses_session_id_portal_sessions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_socket_ticket_uses')),
    )
    op.create_index(op.f('ix_socket_ticket_uses_session_id'), 'socket_ticket_uses',
                    ['session_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_socket_ticket_uses_session_id'), table_name='socket_ticket_uses')
    op.drop_table('socket_ticket_uses')
    op.drop_index(op.f('ix_portal_sessions_user_id'), table_name='portal_sessions')
    op.drop_index(op.f('ix_portal_sessions_secret_hash'), table_name='portal_sessions')
    op.drop_table('portal_sessions')
