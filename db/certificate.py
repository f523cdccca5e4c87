"""Certificates (the seal of compliance). Expiry is by date: see db.queries and
resolvers.certification_rules.certificate_status."""
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Sequence,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, enum_check, pk
from db.enums import CertificateStatus

certificate_number_seq = Sequence("certificate_number_seq", start=1001, metadata=Base.metadata)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("number"),
        # Stored status never says EXPIRED: expiry is derived from valid_until.
        enum_check("status", CertificateStatus),
        CheckConstraint("status <> 'EXPIRED'", name="expiry_is_derived"),
        CheckConstraint("issued_on < valid_until", name="validity_order"),
        CheckConstraint("number ~ '^C[0-9]{6,}$'", name="number_format"),
        # One current (not superseded) certificate per factory.
        Index("uq_certificates_current_per_factory", "factory_id", unique=True,
              postgresql_where=text("status <> 'SUPERSEDED'")),
    )

    id: Mapped[int] = pk()
    number: Mapped[str] = mapped_column(Text, nullable=False)
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    application_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("applications.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'ACTIVE'"))
    status_reason: Mapped[str | None] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(Date, nullable=False)
    # Set once the expiry event was published, so exactly one worker publishes it.
    expiry_announced_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at()
