"""Auditors, audits and their findings."""
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, enum_check, pk
from db.enums import Announcement, AuditStatus, AuditType, Severity


class Auditor(Base):
    __tablename__ = "auditors"
    __table_args__ = (UniqueConstraint("registration_number"),)

    id: Mapped[int] = pk()
    audit_firm_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    registration_number: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()


class Audit(Base):
    __tablename__ = "audits"
    __table_args__ = (
        enum_check("type", AuditType),
        enum_check("announcement", Announcement),
        enum_check("status", AuditStatus),
        CheckConstraint("window_start <= window_end", name="window_order"),
        CheckConstraint("planned_date IS NULL OR planned_date BETWEEN window_start AND window_end",
                        name="planned_in_window"),
    )

    id: Mapped[int] = pk()
    application_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    audit_firm_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    lead_auditor_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("auditors.id", ondelete="RESTRICT")
    )
    type: Mapped[str] = mapped_column(Text, nullable=False)
    announcement: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'SCHEDULED'"))
    window_start: Mapped[date] = mapped_column(Date, nullable=False)
    window_end: Mapped[date] = mapped_column(Date, nullable=False)
    planned_date: Mapped[date | None] = mapped_column(Date)
    conducted_on: Mapped[date | None] = mapped_column(Date)
    report_document_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("documents.id", ondelete="RESTRICT")
    )
    report_submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reviewed_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    review_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class Finding(Base):
    __tablename__ = "findings"
    __table_args__ = (enum_check("severity", Severity),)

    id: Mapped[int] = pk()
    audit_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audits.id", ondelete="CASCADE"), nullable=False, index=True
    )
    clause: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
