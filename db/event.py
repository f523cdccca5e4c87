"""Published events, kept for a while so that a worker whose listener was down can replay them.

`publish` (infra.events) inserts a row in the transaction that makes the change; a trigger
deferred to that transaction's commit numbers it (`seq`, from the standalone sequence
`event_seq`) and sends the NOTIFY carrying the number. Committers number one at a time (a
transaction-scoped advisory lock held from numbering to the end of the commit), so `seq` follows
commit order: a worker that saw `seq` n has seen every committed event numbered below n.
"""
from datetime import datetime

from sqlalchemy import BigInteger, Index, Sequence, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, pk

# Standalone (not owned by a column), so that TRUNCATE ... RESTART IDENTITY leaves it going up.
EVENT_SEQ = Sequence("event_seq", metadata=Base.metadata)


class EventRecord(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_created_at", "created_at"),)

    id: Mapped[int] = pk()
    # Set at commit by the trigger; NULL only inside the publishing transaction.
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # The event as JSON text, `{"topic": ..., ...}`, exactly as NOTIFY sends it (less `seq`).
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at()
