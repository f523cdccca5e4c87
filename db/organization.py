"""Organizations (program, suppliers, customers, audit firms) and their users."""
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, enum_check, pk
from db.enums import OrganizationKind, Role


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        enum_check("kind", OrganizationKind),
        # The program is one organization: its staff are the reviewers and admins.
        Index("uq_organizations_one_program", "kind", unique=True,
              postgresql_where=text("kind = 'PROGRAM'")),
        Index("uq_organizations_kind_name", "kind", func.lower(text("name")), unique=True),
    )

    id: Mapped[int] = pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    # Audit firms are accredited by the program; only active ones get new assignments.
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        enum_check("role", Role),
        Index("uq_users_email_lower", func.lower(text("email")), unique=True),
    )

    id: Mapped[int] = pk()
    email: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    organization_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()


class LoginAttempt(Base):
    """Sign-in attempts in the current window, per account (the normalized email) and per client
    address, counted when each attempt starts: every worker and host counts against the same
    limits (auth.login_throttle). Rows of past windows are pruned."""

    __tablename__ = "login_attempts"
    __table_args__ = (CheckConstraint("scope IN ('ACCOUNT', 'ADDRESS')", name="scope"),)

    scope: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
