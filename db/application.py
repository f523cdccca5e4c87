"""Certification applications, their fees and the recorded workflow transitions."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, enum_check, pk
from db.enums import ApplicationKind, ApplicationStatus, FeeKind, FeeStatus


class Application(Base):
    __tablename__ = "applications"
    __table_args__ = (
        enum_check("kind", ApplicationKind),
        enum_check("status", ApplicationStatus),
        # At most one open application per factory.
        Index("uq_applications_open_per_factory", "factory_id", unique=True,
              postgresql_where=text("status NOT IN ('CERTIFIED', 'REJECTED', 'WITHDRAWN')")),
    )

    id: Mapped[int] = pk()
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    submitted_at: Mapped[datetime] = created_at()
    submitted_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    audit_firm_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), index=True
    )
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))

    # Every UPDATE of an application says `WHERE version = <the version it read>`: a move made
    # from a stale copy (one read without the row lock resolvers.workflow takes) is refused with
    # StaleDataError instead of overwriting the move made meanwhile. resolvers.workflow.move
    # sets the next version itself.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}


class Fee(Base):
    __tablename__ = "fees"
    __table_args__ = (
        enum_check("kind", FeeKind),
        enum_check("status", FeeStatus),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso4217"),
        CheckConstraint("(status = 'PAID') = (paid_at IS NOT NULL)", name="paid_at_when_paid"),
        UniqueConstraint("application_id", "kind", "round", name="uq_fees_application_kind_round"),
    )

    id: Mapped[int] = pk()
    application_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    # A follow-up audit is billed again: the round tells the AUDIT fees of one application apart.
    round: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'USD'"))
    payee_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'DUE'"))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_reference: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = created_at()


class WorkflowTransition(Base):
    """Who moved an application from which state to which, and when."""

    __tablename__ = "workflow_transitions"
    __table_args__ = (
        CheckConstraint(
            "from_status IS NULL OR from_status IN ("
            + ", ".join(f"'{s.value}'" for s in ApplicationStatus) + ")",
            name="from_status",
        ),
        enum_check("to_status", ApplicationStatus),
    )

    id: Mapped[int] = pk()
    application_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = created_at()
