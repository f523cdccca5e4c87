"""Document bytes in PostgreSQL, content-addressed by sha256, in chunks of at most 1 MiB (every
host reaches them); `escp migrate` then moves the files a host still has on disk into them

Revision ID: b7e4c2a91f05
Revises: 3d7b9e21c4a6
Create Date: 2026-12-01 15:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'b7e4c2a91f05'
down_revision = '3d7b9e21c4a6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'document_contents',
        sa.Column('sha256', sa.Text(), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'",
                           name=op.f('ck_document_contents_sha256_hex')),
        sa.CheckConstraint('size_bytes >= 0 AND size_bytes <= 26214400',
                           name=op.f('ck_document_contents_size_limit')),
        sa.PrimaryKeyConstraint('sha256', name=op.f('pk_document_contents')),
    )
    op.create_table(
        'document_chunks',
        sa.Column('sha256', sa.Text(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.CheckConstraint('number >= 0', name=op.f('ck_document_chunks_number')),
        sa.CheckConstraint('octet_length(data) BETWEEN 1 AND 1048576',
                           name=op.f('ck_document_chunks_chunk_size')),
        sa.ForeignKeyConstraint(['sha256'], ['document_contents.sha256'],
                                name=op.f('fk_document_chunks_sha256_document_contents'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('sha256', 'number', name=op.f('pk_document_chunks')),
    )


def downgrade() -> None:
    # The bytes exist nowhere else once uploaded here: refuse rather than destroy them.
    op.execute("""
        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM document_contents) THEN
            RAISE EXCEPTION 'document_contents holds uploaded documents; going below revision '
              'b7e4c2a91f05 would delete them. Export them, then empty the table first.';
          END IF;
        END $$""")
    op.drop_table('document_chunks')
    op.drop_table('document_contents')
