"""Customer connections: a customer organization's link to one factory and the scopes it grants."""
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, enum_check, pk, scopes_check
from db.enums import ConnectionStatus


class CustomerConnection(Base):
    __tablename__ = "customer_connections"
    __table_args__ = (
        enum_check("status", ConnectionStatus),
        scopes_check("requested_scopes"),
        scopes_check("granted_scopes"),
        CheckConstraint("cardinality(requested_scopes) > 0", name="requested_scopes_not_empty"),
        # Only an accepted connection grants anything.
        CheckConstraint("status = 'ACCEPTED' OR cardinality(granted_scopes) = 0",
                        name="granted_only_when_accepted"),
        # At most one live (pending or accepted) connection per customer and factory.
        Index("uq_customer_connections_live", "customer_id", "factory_id", unique=True,
              postgresql_where=text("status IN ('PENDING', 'ACCEPTED')")),
    )

    id: Mapped[int] = pk()
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    customer_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(Text, nullable=False)
    requested_scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    granted_scopes: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    message: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("now()")
    )
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set once the expiry event was published, so exactly one worker publishes it.
    expiry_announced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped by every change, so racing writers can be told apart.
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))

    # Every ORM UPDATE says `WHERE version = <the version it read>`: a move made from a stale
    # copy (one read without the row lock resolvers.connection takes) is refused with
    # StaleDataError instead of overwriting the move made meanwhile. resolvers.connection._save
    # sets the next version itself.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}
