"""Corrective action plans (one per audit) and their actions (one per finding)."""
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, enum_check, pk
from db.enums import ActionStatus, CapStatus


class CorrectiveActionPlan(Base):
    __tablename__ = "corrective_action_plans"
    __table_args__ = (enum_check("status", CapStatus), UniqueConstraint("audit_id"))

    id: Mapped[int] = pk()
    audit_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("audits.id", ondelete="CASCADE"), nullable=False
    )
    factory_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("factories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'DRAFT'"))
    due_on: Mapped[date] = mapped_column(Date, nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class CorrectiveAction(Base):
    __tablename__ = "corrective_actions"
    __table_args__ = (enum_check("status", ActionStatus), UniqueConstraint("plan_id", "finding_id"))

    id: Mapped[int] = pk()
    plan_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("corrective_action_plans.id", ondelete="CASCADE"),
        nullable=False, index=True,
    )
    finding_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("findings.id", ondelete="CASCADE"), nullable=False
    )
    action: Mapped[str] = mapped_column(Text, nullable=False)
    due_date: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'OPEN'"))
    agrees_with_finding: Mapped[bool] = mapped_column(Boolean, nullable=False)
    factory_comment: Mapped[str | None] = mapped_column(Text)


corrective_action_evidence = Table(
    "corrective_action_evidence",
    Base.metadata,
    Column("action_id", BigInteger, ForeignKey("corrective_actions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("document_id", BigInteger, ForeignKey("documents.id", ondelete="RESTRICT"),
           primary_key=True),
)
