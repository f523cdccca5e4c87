"""API keys of machine clients, and the key each access-log read was made with

Revision ID: c41d8e5a9f27
Revises: c5a8e3f19d72
Create Date: 2026-12-01 16:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c41d8e5a9f27'
down_revision = 'c5a8e3f19d72'
branch_labels = None
depends_on = None

ROLES = "'ADMIN', 'REVIEWER', 'SUPPLIER', 'CUSTOMER', 'AUDITOR'"


def upgrade() -> None:
    op.create_table(
        'api_keys',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('organization_id', sa.BigInteger(), nullable=False),
        sa.Column('created_by_id', sa.BigInteger(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('role', sa.Text(), nullable=False),
        sa.Column('secret_hash', sa.Text(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint(f"role IN ({ROLES})", name=op.f('ck_api_keys_role')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_api_keys_created_by_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'],
                                name=op.f('fk_api_keys_organization_id_organizations'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    )
    op.create_index(op.f('ix_api_keys_organization_id'), 'api_keys', ['organization_id'])
    op.add_column('access_log', sa.Column('api_key_id', sa.BigInteger(), nullable=True))
    op.create_foreign_key(op.f('fk_access_log_api_key_id_api_keys'), 'access_log', 'api_keys',
                          ['api_key_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    op.drop_constraint(op.f('fk_access_log_api_key_id_api_keys'), 'access_log',
                       type_='foreignkey')
    op.drop_column('access_log', 'api_key_id')
    op.drop_index(op.f('ix_api_keys_organization_id'), table_name='api_keys')
    op.drop_table('api_keys')
