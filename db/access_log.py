"""Who viewed which scope of a factory's shared data, and when."""
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, enum_check, pk
from db.enums import ShareScope


class AccessLogEntry(Base):
    __tablename__ = "access_log"
    __table_args__ = (
        enum_check("scope", ShareScope),
        Index("ix_access_log_factory_viewed", "factory_id", "viewed_at"),
    )

    id: Mapped[int] = pk()
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False
    )
    organization_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    scope: Mapped[str] = mapped_column(Text, nullable=False)
    # The API key the read was made with; null for a person's token.
    api_key_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("api_keys.id", ondelete="SET NULL"))
    viewed_at: Mapped[datetime] = created_at()
