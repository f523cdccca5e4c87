"""Portal sessions, kept in the database so that signing out ends them at once, and the socket
tickets each one has used (a ticket works once)."""
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, pk


class PortalSession(Base):
    __tablename__ = "portal_sessions"

    id: Mapped[int] = pk()
    # sha256 of the random id the cookie holds, hex: a copy of this table signs nobody in.
    secret_hash: Mapped[str] = mapped_column(Text, nullable=False, index=True, unique=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at: Mapped[datetime] = created_at()
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SocketTicketUse(Base):
    """A socket ticket (its jti) that has opened a socket: a second use is refused."""

    __tablename__ = "socket_ticket_uses"

    ticket_id: Mapped[str] = mapped_column(Text, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("portal_sessions.id", ondelete="CASCADE"), nullable=False,
        index=True)
    used_at: Mapped[datetime] = created_at()
