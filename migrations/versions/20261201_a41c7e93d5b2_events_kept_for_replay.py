"""Published events are kept, numbered in commit order, so a listener that reconnects replays
what it missed (db.event, resolvers.events)

Revision ID: a41c7e93d5b2
Revises: b7e4c2a91f05
Create Date: 2026-12-01 15:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a41c7e93d5b2'
down_revision = 'b7e4c2a91f05'
branch_labels = None
depends_on = None

# Runs at the commit of the transaction that published (a deferred constraint trigger). The
# advisory lock, held until that commit ends, lets one committer number at a time, so numbers
# follow commit order; the NOTIFY carries the number in front of the stored JSON object.
NUMBER_AT_COMMIT = """
CREATE FUNCTION escp_number_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(7301946245);
    n := nextval('event_seq');
    UPDATE events SET seq = n WHERE id = NEW.id;
    PERFORM pg_notify('escp_events', '{"seq":' || n || ',' || substr(NEW.payload, 2));
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE event_seq")
    op.create_table(
        'events',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=True),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'),
                  nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
        sa.UniqueConstraint('seq', name=op.f('uq_events_seq')),
    )
    op.create_index('ix_events_created_at', 'events', ['created_at'], unique=False)
    op.execute(NUMBER_AT_COMMIT)
    op.execute("CREATE CONSTRAINT TRIGGER events_numbered_at_commit AFTER INSERT ON events "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION escp_number_event()")


def downgrade() -> None:
    op.drop_table('events')  # and its trigger
    op.execute("DROP FUNCTION escp_number_event()")
    op.execute("DROP SEQUENCE event_seq")
