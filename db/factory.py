"""Factories: production sites owned by a supplier organization."""
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, pk


class Factory(Base):
    __tablename__ = "factories"
    __table_args__ = (
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        CheckConstraint("worker_count IS NULL OR worker_count >= 0", name="worker_count"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )

    id: Mapped[int] = pk()
    supplier_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    country: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    city: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    product_categories: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")
    )
    worker_count: Mapped[int | None] = mapped_column(Integer)
    contact_email: Mapped[str | None] = mapped_column(Text)
    listed: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    created_at: Mapped[datetime] = created_at()
